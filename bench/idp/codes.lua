-- bench/idp/codes.lua: authorization requests with prompt=none and an IdP session cookie
-- (wrk -s); the code of each 302 to the redirect URI is appended to BENCH_CODES/codes.<thread>.
--   BENCH_COOKIE  "postern_session=..."
--   BENCH_CODES   the directory for the code files
-- The path of the wrk URL is the authorization request. Anything but a 302 with a code is an
-- error (the first one is printed).

local threads = {}
local next_id = 1

function setup(thread)
    thread:set("id", next_id)
    next_id = next_id + 1
    table.insert(threads, thread)
end

function init(args)
    ok, bad, first_error = 0, 0, nil
    out = assert(io.open(os.getenv("BENCH_CODES") .. "/codes." .. id, "a"))
    out:setvbuf("line")
    wrk.headers["Cookie"] = os.getenv("BENCH_COOKIE")
end

function response(status, hdrs, body)
    local loc = hdrs["Location"] or hdrs["location"]
    local code = status == 302 and loc and loc:match("[?&]code=([^&]+)")
    if code then
        out:write(code, "\n")
        ok = ok + 1
    else
        bad = bad + 1
        if first_error == nil then
            first_error = status .. " " .. tostring(loc) .. " " .. string.sub(body, 1, 200)
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
    io.write(string.format("RESULT ok=%d errors=%d secs=%.3f rate=%.1f\n", tok, tbad,
        summary.duration / 1e6, tok / (summary.duration / 1e6)))
    if err then
        io.write("FIRST_ERROR " .. err .. "\n")
    end
end
