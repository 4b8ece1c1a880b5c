-- bench/idp/login.lua: password logins through the HTML form (wrk -s). A login is a GET of
-- the login page (a fresh CSRF token and its cookie) and the POST of the form with the right
-- password; it counts when the POST answers 302 with a new postern_session cookie. A thread
-- keeps the forms it has fetched and posts one whenever it has one, so every connection
-- alternates between the two requests.
--   BENCH_USER, BENCH_PASSWORD   the credentials (form-encoded)
-- The path of the wrk URL is the login page (with its ?next=).

local threads = {}
local user = os.getenv("BENCH_USER")
local password = os.getenv("BENCH_PASSWORD")

function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    logins, forms, bad, first_error = 0, 0, 0, nil
    pending = {}
    action = nil
end

function request()
    local p = table.remove(pending)
    if p then
        return wrk.format("POST", p.action, {
            ["Content-Type"] = "application/x-www-form-urlencoded",
            ["Cookie"] = p.cookie,
        }, p.body)
    end
    return wrk.format("GET")
end

local function fail(status, what)
    bad = bad + 1
    if first_error == nil then
        first_error = status .. " " .. what
    end
end

function response(status, hdrs, body)
    local cookie = hdrs["Set-Cookie"] or hdrs["set-cookie"] or ""
    if status == 302 then
        if cookie:find("postern_session=", 1, true) then
            logins = logins + 1
        else
            fail(status, "login POST without a session cookie")
        end
        return
    end
    local csrf = status == 200 and body:match('name="csrf_token" value="([^"]+)"')
    local next = body:match('name="next" value="([^"]*)"') or "/"
    local act = body:match('<form[^>]* action="([^"]+)"')
    local c = cookie:match("(postern_csrf=[^;]+)")
    if csrf and c and act then
        forms = forms + 1
        table.insert(pending, {
            action = act,
            cookie = c,
            body = "csrf_token=" .. csrf .. "&next=" .. next .. "&username=" .. user ..
                "&password=" .. password,
        })
    else
        fail(status, string.sub(body, 1, 200))
    end
end

function done(summary, latency, requests)
    local tl, tf, tbad, err = 0, 0, 0, nil
    for _, t in ipairs(threads) do
        tl = tl + t:get("logins")
        tf = tf + t:get("forms")
        tbad = tbad + t:get("bad")
        err = err or t:get("first_error")
    end
    local secs = summary.duration / 1e6
    io.write(string.format("RESULT logins=%d forms=%d errors=%d secs=%.3f rate=%.2f\n", tl, tf,
        tbad, secs, tl / secs))
    if err then
        io.write("FIRST_ERROR " .. err .. "\n")
    end
end
