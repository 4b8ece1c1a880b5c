-- bench/gate/check.lua: GET wrk's URL (with the -H headers: Host, Cookie) and check every
-- answer (wrk -s). A response counts only if it is a 200 whose body is exactly the origin's
-- page (BENCH_BODY); anything else is an error, and the first one is printed.
--   BENCH_BODY      the origin's body
--   BENCH_DELAY_MS  when set: each connection waits this long between a response and its next
--                   request, so that the rate is moderate and fixed by the pacing, and the
--                   latency says how fast an answer comes, not how much the server can take
local body = assert(os.getenv("BENCH_BODY"), "BENCH_BODY is not set")
local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    ok, bad = 0, 0
    first_error = nil
end

if delay_ms > 0 then
    function delay()
        return delay_ms
    end
end

function response(status, hdrs, b)
    if status == 200 and b == body then
        ok = ok + 1
    else
        bad = bad + 1
        if first_error == nil then
            first_error = status .. " " .. string.sub(b or "", 1, 200):gsub("\n", " ")
        end
    end
end

function done(summary, latency, requests)
    local tok, tbad, err = 0, 0, nil
    for _, t in ipairs(threads) do
        tok = tok + t:get("ok")
        tbad = tbad + t:get("bad")
        err = err or t:get("first_error")
    end
    local secs = summary.duration / 1e6
    local e = summary.errors
    io.write(string.format("RESULT ok=%d errors=%d socket_errors=%d secs=%.3f rate=%.1f " ..
                               "p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f\n", tok, tbad,
        e.connect + e.read + e.write + e.timeout, secs, tok / secs,
        latency:percentile(50) / 1000, latency:percentile(90) / 1000,
        latency:percentile(99) / 1000, latency.max / 1000))
    if err then
        io.write("FIRST_ERROR " .. err .. "\n")
    end
end
