-- bench/idp/probe.lua: a steady trickle of GETs (wrk -s) whose latency is the figure: each
-- connection waits BENCH_DELAY_MS between a response and its next request, so the probe
-- measures how fast the server answers, not how much it can take. Non-200 answers are errors.
local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "2")
local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    ok, bad = 0, 0
end

function delay()
    return delay_ms
end

function response(status, hdrs, body)
    if status == 200 then
        ok = ok + 1
    else
        bad = bad + 1
    end
end

function done(summary, latency, requests)
    local tok, tbad = 0, 0
    for _, t in ipairs(threads) do
        tok = tok + t:get("ok")
        tbad = tbad + t:get("bad")
    end
    local secs = summary.duration / 1e6
    io.write(string.format("RESULT ok=%d errors=%d rate=%.1f p50_ms=%.3f p90_ms=%.3f " ..
                               "p99_ms=%.3f max_ms=%.3f\n", tok, tbad, tok / secs,
        latency:percentile(50) / 1000, latency:percentile(90) / 1000,
        latency:percentile(99) / 1000, latency.max / 1000))
end
