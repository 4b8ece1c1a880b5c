-- bench/idp/token.lua: POSTs to the token endpoint (wrk -s), client_secret_basic.
--   BENCH_BASIC   base64 of "client_id:client_secret"
--   BENCH_GRANT   client_credentials (default) or authorization_code
--   BENCH_CODES   authorization_code: a directory holding codes.1, codes.2... (one code a
--                 line, one file per wrk thread, each code used once)
--   BENCH_REDIRECT the redirect_uri of the codes (form-encoded)
-- A response counts only if it is a 200 with a Bearer access_token (and an id_token for
-- authorization_code); anything else is an error, and the first one is printed. The rate is
-- good responses / wrk's measured duration. A thread that runs out of codes asks for
-- /healthz instead (counted apart: it lowers the rate, never raises it).

local grant = os.getenv("BENCH_GRANT") or "client_credentials"
local basic = os.getenv("BENCH_BASIC")
local headers = {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Authorization"] = "Basic " .. basic,
}
local threads = {}
local next_id = 1

function setup(thread)
    thread:set("id", next_id)
    next_id = next_id + 1
    table.insert(threads, thread)
end

function init(args)
    ok, bad, spare = 0, 0, 0
    first_error = nil
    codes, ncodes, used = {}, 0, 0
    if grant == "authorization_code" then
        local f = assert(io.open(os.getenv("BENCH_CODES") .. "/codes." .. id, "r"))
        for line in f:lines() do
            ncodes = ncodes + 1
            codes[ncodes] = line
        end
        f:close()
        redirect = os.getenv("BENCH_REDIRECT")
    end
end

function request()
    if grant ~= "authorization_code" then
        return wrk.format("POST", nil, headers, "grant_type=client_credentials")
    end
    if used >= ncodes then
        return wrk.format("GET", "/healthz")
    end
    used = used + 1
    local body = "grant_type=authorization_code&code=" .. codes[used] .. "&redirect_uri=" .. redirect
    return wrk.format("POST", nil, headers, body)
end

function response(status, hdrs, body)
    if status == 200 and body == "ok\n" then
        spare = spare + 1 -- /healthz: out of codes
        return
    end
    local good = status == 200 and body:find('"access_token":"ey', 1, true) and
                     body:find('"token_type":"Bearer"', 1, true)
    if good and grant == "authorization_code" then
        good = body:find('"id_token":"ey', 1, true)
    end
    if good then
        ok = ok + 1
    else
        bad = bad + 1
        if first_error == nil then
            first_error = status .. " " .. string.sub(body, 1, 200)
        end
    end
end

function done(summary, latency, requests)
    local tok, tbad, tspare, err = 0, 0, 0, nil
    for _, t in ipairs(threads) do
        tok = tok + t:get("ok")
        tbad = tbad + t:get("bad")
        tspare = tspare + t:get("spare")
        err = err or t:get("first_error")
    end
    local secs = summary.duration / 1e6
    io.write(string.format("RESULT ok=%d errors=%d out_of_codes=%d secs=%.3f rate=%.1f " ..
                               "p50_ms=%.2f p99_ms=%.2f socket_errors=%d\n", tok, tbad, tspare,
        secs, tok / secs, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
        summary.errors.connect + summary.errors.read + summary.errors.write +
            summary.errors.timeout))
    if err then
        io.write("FIRST_ERROR " .. err .. "\n")
    end
end
