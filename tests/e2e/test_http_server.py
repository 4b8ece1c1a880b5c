#!/usr/bin/python3
"""The HTTP/1.1 server core (issue 2 item 2): connection handling against real processes.

Scenarios on `postern serve` where its routes suffice (/healthz), on the echo test server
(tests/e2e/echo_server.c: /echo, /slow, /small/ ...) for bodies, the worker pool and shutdown.
"""
import os
import signal
import socket
import time

import harness as h


def healthz(host='127.0.0.1', extra=''):
    return ('GET /healthz HTTP/1.1\r\nHost: %s\r\n%s\r\n' % (host, extra)).encode()


# ---- keep-alive, pipelining, HEAD, methods --------------------------------------------------

@h.test
def keep_alive_serves_many_requests_on_one_connection(t):
    srv = h.start_postern()
    with h.Conn(srv.port) as c:
        for _ in range(5):
            c.send(healthz())
            r = c.read_response()
            t.eq(r.status, 200)
            t.eq(r.body, b'ok\n')
            t.eq(r.header('connection'), 'keep-alive')
            t.ok(r.header('date', '').endswith(' GMT'), 'Date header: %r' % r.header('date'))
            t.eq(r.header('server'), 'postern')
        t.ok(not c.is_closed(0.2), 'connection closed after keep-alive responses')


@h.test
def pipelined_requests_are_answered_in_order(t):
    srv = h.start_echo()
    with h.Conn(srv.port) as c:
        # Three requests in one write, the first one slow (worker pool): order must hold.
        c.send(b''.join(h.build_request('GET', p) for p in
                        ('/slow?ms=200', '/echo?n=2', '/echo?n=3')))
        r1, r2, r3 = c.read_response(), c.read_response(), c.read_response()
        t.eq((r1.status, r1.body), (200, b'slow done\n'))
        t.eq(r2.header('x-query'), 'n=2')
        t.eq(r3.header('x-query'), 'n=3')
        # A burst of 200 small requests in one write.
        c.send(b''.join(h.build_request('GET', '/echo?i=%d' % i) for i in range(200)))
        for i in range(200):
            r = c.read_response()
            t.eq(r.header('x-query'), 'i=%d' % i)


@h.test
def head_has_no_body(t):
    srv = h.start_postern()
    with h.Conn(srv.port) as c:
        c.send(b'HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n')
        r = c.read_response(head_request=True)
        t.eq(r.status, 200)
        t.eq(r.header('content-length'), '3')
        # If a body had been sent, it would be read as the next status line.
        c.send(healthz())
        r = c.read_response()
        t.eq((r.status, r.body), (200, b'ok\n'))


@h.test
def unknown_method_is_501_and_closes(t):
    srv = h.start_postern()
    for method in (b'FOO', b'get', b'CONNECT'):
        with h.Conn(srv.port) as c:
            target = b'example.com:443' if method == b'CONNECT' else b'/healthz'
            c.send(method + b' ' + target + b' HTTP/1.1\r\nHost: x\r\n\r\n')
            r = c.read_response()
            t.eq(r.status, 501, method.decode())
            t.eq(r.header('connection'), 'close')
            t.ok(c.is_closed(), 'connection still open after 501')


@h.test
def http10_closes_unless_keep_alive(t):
    srv = h.start_postern()
    with h.Conn(srv.port) as c:
        c.send(b'GET /healthz HTTP/1.0\r\n\r\n')
        r = c.read_response()
        t.eq((r.status, r.header('connection')), (200, 'close'))
        t.ok(c.is_closed(), 'HTTP/1.0 connection left open')
    with h.Conn(srv.port) as c:
        c.send(b'GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n')
        r = c.read_response()
        t.eq((r.status, r.header('connection')), (200, 'keep-alive'))
        c.send(b'GET /healthz HTTP/1.0\r\n\r\n')
        t.eq(c.read_response().status, 200)
        t.ok(c.is_closed(), 'connection left open')


@h.test
def connection_close_request_is_honoured(t):
    srv = h.start_postern()
    with h.Conn(srv.port) as c:
        c.send(healthz(extra='Connection: close\r\n'))
        r = c.read_response()
        t.eq((r.status, r.header('connection')), (200, 'close'))
        t.ok(c.is_closed(), 'connection left open')


@h.test
def routing_by_host_and_canonical_path(t):
    srv = h.start_echo()
    t.eq(h.request(srv.port, 'GET', '/', host='vhost.test').body, b'vhost\n')
    t.eq(h.request(srv.port, 'GET', '/x', host='VHost.Test:8080').body, b'vhost\n')
    t.eq(h.request(srv.port, 'GET', '/', host='other.test').status, 404)
    # One canonical decode: /a/../echo is /echo, %65cho is echo; the query stays encoded.
    r = h.request(srv.port, 'GET', '/a/../%65cho?q=%41')
    t.eq((r.status, r.header('x-path'), r.header('x-query')), (200, '/echo', 'q=%41'))
    t.eq(h.request(srv.port, 'GET', '/echo%2Fx').status, 400)
    t.eq(h.request(srv.port, 'GET', '/../echo').status, 400)


@h.test
def responses_escape_and_refuse_injection(t):
    srv = h.start_echo()
    r = h.request(srv.port, 'GET', '/error', headers={'Accept': 'text/html'})
    t.eq(r.status, 403)
    t.contains(r.body, b'no &lt;script&gt;&quot;access&quot;&lt;/script&gt; &amp; denied')
    t.ok(b'<script>' not in r.body, 'unescaped markup in the error page')
    r = h.request(srv.port, 'GET', '/error', headers={'Accept': 'application/json'})
    t.eq(r.header('content-type'), 'application/json')
    t.eq(r.body, b'{"error": "no <script>\\"access\\"</script> & denied"}\n')
    r = h.request(srv.port, 'GET', '/error',
                  headers={'Accept': 'text/html;q=0.9, application/json;q=0.5'})
    t.eq(r.header('content-type'), 'text/html; charset=utf-8')
    r = h.request(srv.port, 'GET', '/inject')
    t.eq(r.body, b'0 -1 -1 -1\n')  # only the clean header was accepted
    t.eq(r.header('x-ok'), 'fine')
    t.eq(r.header('x-bad'), None)
    t.eq(r.header('set-cookie'), None)
    r = h.request(srv.port, 'GET', '/redirect')
    t.eq((r.status, r.header('location')), (302, '/echo'))


# ---- bodies -----------------------------------------------------------------------------------

@h.test
def content_length_body_in_pieces(t):
    srv = h.start_echo()
    with h.Conn(srv.port) as c:
        c.send(b'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhel')
        time.sleep(0.1)
        c.send(b'lo wo')
        time.sleep(0.1)
        c.send(b'rld' + h.build_request('GET', '/echo?next'))
        r = c.read_response()
        t.eq((r.status, r.body, r.header('x-method')), (200, b'hello world', 'POST'))
        t.eq(c.read_response().header('x-query'), 'next')


@h.test
def chunked_request_body(t):
    srv = h.start_echo()
    with h.Conn(srv.port) as c:
        c.send(b'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel')
        time.sleep(0.1)
        c.send(b'lo\r\n6;ext=1\r\n worl')
        time.sleep(0.1)
        c.send(b'd\r\n0\r\nTrailer: x\r\n\r\n')
        r = c.read_response()
        t.eq((r.status, r.body), (200, b'hello world'))
        c.send(h.build_request('GET', '/echo?after'))
        t.eq(c.read_response().header('x-query'), 'after')


@h.test
def body_limit_is_413(t):
    srv = h.start_echo()
    r = h.request(srv.port, 'POST', '/small/', body=b'x' * 16)
    t.eq((r.status, r.body), (200, b'16\n'))
    with h.Conn(srv.port) as c:
        c.send(h.build_request('POST', '/small/', body=b'x' * 17))
        r = c.read_response()
        t.eq((r.status, r.header('connection')), (413, 'close'))
        t.ok(c.is_closed(), 'connection left open after 413')
    # Refused on Content-Length alone, before the body is sent.
    with h.Conn(srv.port) as c:
        c.send(b'POST /small/ HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n')
        t.eq(c.read_response().status, 413)
    # Chunked: refused once the decoded size passes the limit.
    with h.Conn(srv.port) as c:
        c.send(b'POST /small/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n'
               b'10\r\n' + b'y' * 16 + b'\r\n1\r\nz\r\n0\r\n\r\n')
        t.eq(c.read_response().status, 413)
        t.ok(c.is_closed(), 'connection left open after 413')
    # The default limit (64 KiB) on a route without its own.
    r = h.request(srv.port, 'POST', '/info', body=b'x' * (64 * 1024 + 1))
    t.eq(r.status, 413)


@h.test
def expect_100_continue(t):
    srv = h.start_echo()
    with h.Conn(srv.port) as c:
        c.send(b'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n'
               b'Expect: 100-continue\r\n\r\n')
        r = c.read_response(allow_1xx=True)
        t.eq(r.status, 100)
        c.send(b'hello')
        r = c.read_response()
        t.eq((r.status, r.body), (200, b'hello'))
    # A body that will not be accepted: 413 at once, no 100.
    with h.Conn(srv.port) as c:
        c.send(b'POST /small/ HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n'
               b'Expect: 100-continue\r\n\r\n')
        r = c.read_response(allow_1xx=True)
        t.eq(r.status, 413)
    # An expectation the server does not know: 417.
    with h.Conn(srv.port) as c:
        c.send(b'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n'
               b'Expect: teapot\r\n\r\nx')
        t.eq(c.read_response(allow_1xx=True).status, 417)


@h.test
def form_cookie_and_query_accessors(t):
    srv = h.start_echo()
    r = h.request(srv.port, 'POST', '/info?x=1', body=b'x=a+b%21&y=2',
                  headers={'Content-Type': 'application/x-www-form-urlencoded',
                           'Cookie': 'b=2; a="v1"', 'User-Agent': 'ua/1'})
    t.eq(r.status, 200)
    import json
    info = json.loads(r.body)
    t.eq(info['form_x'], 'a b!')
    t.eq(info['cookie_a'], 'v1')
    t.eq(info['query'], 'x=1')
    t.eq(info['user_agent'], 'ua/1')
    t.eq(info['tls'], False)
    t.eq(info['remote_ip'], '127.0.0.1')


# ---- timeouts --------------------------------------------------------------------------------

@h.test
def slowloris_is_cut_at_the_header_deadline(t):
    srv = h.start_postern(h.postern_config(timeouts={'header': '2s', 'idle': '30s'}))
    c = h.Conn(srv.port, timeout=10)
    t.defer(c.close)
    start = time.monotonic()
    head = b'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ' + b'a' * 40 + b'\r\n\r\n'
    got = b''
    for i in range(len(head)):
        try:
            c.send(head[i:i + 1])
        except (BrokenPipeError, ConnectionResetError):
            break
        time.sleep(0.25)  # each byte arrives well inside any per-read timeout
        c.sock.settimeout(0.01)
        try:
            data = c.sock.recv(4096)
            got += data
            if not data:
                break
        except (socket.timeout, TimeoutError):
            pass
        except ConnectionResetError:
            break
        if time.monotonic() - start > 6:
            break
    elapsed = time.monotonic() - start
    t.note('elapsed %.2f s, received %r' % (elapsed, got[:80]))
    t.ok(got.startswith(b'HTTP/1.1 408 '), 'no 408 before the end of the dribble')
    t.ge(elapsed, 1.5)
    t.le(elapsed, 4.0)


@h.test
def silent_connection_is_closed_quietly(t):
    srv = h.start_postern(h.postern_config(timeouts={'header': '1s'}))
    with h.Conn(srv.port, timeout=5) as c:
        start = time.monotonic()
        t.eq(c.read_until_close(), b'')  # no 408 for a request never started
        t.le(time.monotonic() - start, 3.0)


@h.test
def idle_keep_alive_connection_is_closed(t):
    srv = h.start_postern(h.postern_config(timeouts={'idle': '1s', 'header': '10s'}))
    with h.Conn(srv.port, timeout=5) as c:
        c.send(healthz())
        t.eq(c.read_response().status, 200)
        start = time.monotonic()
        t.eq(c.read_until_close(), b'')
        elapsed = time.monotonic() - start
        t.ge(elapsed, 0.8)
        t.le(elapsed, 3.0)


@h.test
def body_timeout_is_408(t):
    # postern's /healthz takes no body: the echo server has a route that does.
    srv = h.start_echo('--body-timeout', 1000)
    with h.Conn(srv.port, timeout=5) as c:
        c.send(b'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc')
        start = time.monotonic()
        r = c.read_response()
        t.eq((r.status, r.header('connection')), (408, 'close'))
        t.le(time.monotonic() - start, 3.0)
        t.ok(c.is_closed(), 'connection left open after 408')


# ---- limits, threads, pool, shutdown -------------------------------------------------------

@h.test
def connection_limit(t):
    srv = h.start_postern(h.postern_config(max_connections=4))
    time.sleep(0.3)  # the readiness probe's connection must be gone (it counts too)
    conns = []
    for _ in range(4):
        c = h.Conn(srv.port)
        t.defer(c.close)
        c.send(healthz())
        t.eq(c.read_response().status, 200)
        conns.append(c)
    extra = h.Conn(srv.port)
    t.defer(extra.close)
    extra.send(healthz())
    data = extra.read_until_close()
    t.ok(data == b'' or data.startswith(b'HTTP/1.1 503 '), 'got %r' % data[:60])
    conns[0].close()
    # The slot is free again once the server saw the close.
    def served():
        try:
            return h.request(srv.port, 'GET', '/healthz').status == 200
        except (OSError, EOFError):
            return False
    t.ok(h.wait_until(served, 3), 'no connection accepted after one was closed')


@h.test
def several_event_loop_threads_serve(t):
    srv = h.start_postern(h.postern_config(threads=3))
    tasks = os.listdir('/proc/%d/task' % srv.pid)
    t.ge(len(tasks), 4, 'threads of the process')  # main + 3 loops (+ workers)
    t.eq(listening_sockets(srv.port), 3, 'one SO_REUSEPORT socket per loop')
    conns = [h.Conn(srv.port) for _ in range(32)]
    for c in conns:
        t.defer(c.close)
        c.send(healthz())
    for c in conns:
        t.eq(c.read_response().status, 200)


def listening_sockets(port):
    """How many sockets listen on this TCP port (IPv4 and IPv6), from /proc/net."""
    n = 0
    for table in ('/proc/net/tcp', '/proc/net/tcp6'):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except FileNotFoundError:
            continue
        for row in rows:
            cols = row.split()
            if cols[3] == '0A' and int(cols[1].rsplit(':', 1)[1], 16) == port:
                n += 1
    return n


@h.test
def port_zero_ipv6_and_one_socket_per_thread(t):
    if not os.path.exists('/proc/net/if_inet6'):
        t.note('no IPv6 here: only the IPv4 part runs')
    listen = ['--listen', '127.0.0.1:0']
    if os.path.exists('/proc/net/if_inet6'):
        listen += ['--listen', '[::1]:0', '--listen', ':0']
    srv = h.Server('echo_server', [h.echo_bin()] + listen + ['--threads', '3'], None)
    ports = h.wait_until(lambda: [int(p) for p in
                                  __import__('re').findall(r'listening on http://[^ ]*:(\d+)',
                                                           srv.log())], 10)
    t.eq(len(ports), len(listen) // 2, 'listening lines')
    for port in ports:
        t.ne(port, 0)
        # Port 0: every loop's SO_REUSEPORT socket bound the same port as the first.
        t.eq(listening_sockets(port), 3, 'listening sockets on port %d' % port)
    srv.port = ports[0]
    srv.wait_ready()
    for _ in range(20):
        t.eq(h.request(ports[0], 'GET', '/healthz').status, 200)
    if len(ports) > 1:
        with socket.create_connection(('::1', ports[1]), timeout=5) as s6:
            s6.sendall(b'GET /info HTTP/1.1\r\nHost: [::1]\r\nConnection: close\r\n\r\n')
            data = b''
            while True:
                d = s6.recv(65536)
                if not d:
                    break
                data += d
        t.contains(data, b'"remote_ip": "::1"')
        t.contains(data, b'"host": "[::1]"')
        # ":0" is every address, IPv4 clients included, and they are shown as IPv4.
        info = h.request(ports[2], 'GET', '/info').body
        t.contains(info, b'"remote_ip": "127.0.0.1"')


@h.test
def worker_pool_answers_and_survives_gone_clients(t):
    srv = h.start_echo('--workers', 2)
    # Clients that leave while their job runs: done still runs, its answer is dropped.
    for _ in range(5):
        c = h.Conn(srv.port)
        c.send(h.build_request('GET', '/slow?ms=100'))
        c.close()
    # Four jobs on two workers: about two rounds of 300 ms.
    conns = [h.Conn(srv.port) for _ in range(4)]
    start = time.monotonic()
    for c in conns:
        t.defer(c.close)
        c.send(h.build_request('GET', '/slow'))
    for c in conns:
        r = c.read_response()
        t.eq((r.status, r.body), (200, b'slow done\n'))
    t.ge(time.monotonic() - start, 0.55)
    # A request kept by its handler and answered from a timer of the loop.
    t.eq(h.request(srv.port, 'GET', '/later?ms=50').body, b'later\n')
    c = h.Conn(srv.port)
    c.send(h.build_request('GET', '/later?ms=100'))
    c.close()
    time.sleep(0.3)
    t.eq(h.request(srv.port, 'GET', '/healthz').status, 200)
    t.eq(srv.stop(), 0)
    t.ok('ERROR: AddressSanitizer' not in srv.log(), 'sanitizer report')


@h.test
def large_response_to_a_slow_reader(t):
    srv = h.start_echo()
    n = 8 * 1024 * 1024
    with h.Conn(srv.port, timeout=10) as c:
        # The answer is far larger than the socket buffers: the server must queue it, wait
        # for the client, and only then answer the pipelined request behind it.
        c.send(h.build_request('GET', '/big?n=%d' % n) + h.build_request('GET', '/echo?z'))
        time.sleep(0.5)
        for _ in range(20):
            c._fill()
            time.sleep(0.01)
        r = c.read_response()
        t.eq((r.status, len(r.body)), (200, n))
        t.eq(r.body.count(b'x'), n)
        t.eq(c.read_response().header('x-query'), 'z')


@h.test
def graceful_shutdown_finishes_in_flight_requests(t):
    srv = h.start_echo('--shutdown-timeout', 5000)
    idle = h.Conn(srv.port)
    t.defer(idle.close)
    idle.send(h.build_request('GET', '/healthz'))
    t.eq(idle.read_response().status, 200)
    busy = h.Conn(srv.port, timeout=10)
    t.defer(busy.close)
    busy.send(h.build_request('GET', '/slow?ms=1500'))
    time.sleep(0.3)
    srv.signal(signal.SIGTERM)
    t.ok(idle.is_closed(2.0), 'idle keep-alive connection not closed on shutdown')
    time.sleep(0.2)
    try:
        socket.create_connection(('127.0.0.1', srv.port), timeout=1).close()
        t.fail('new connection accepted during shutdown')
    except ConnectionRefusedError:
        pass
    r = busy.read_response()
    t.eq((r.status, r.body, r.header('connection')), (200, b'slow done\n', 'close'))
    t.eq(srv.wait(5), 0)


@h.test
def shutdown_is_bounded(t):
    srv = h.start_echo('--shutdown-timeout', 500)
    busy = h.Conn(srv.port, timeout=10)
    t.defer(busy.close)
    busy.send(h.build_request('GET', '/slow?ms=3000'))
    time.sleep(0.3)
    start = time.monotonic()
    srv.signal(signal.SIGTERM)
    rc = srv.wait(10)
    t.eq(rc, 0)
    # The loop stops after 0.5 s; freeing the server waits for the running job (3 s).
    t.le(time.monotonic() - start, 4.5)


@h.test
def postern_exits_zero_on_sigterm_and_sigint(t):
    for sig in (signal.SIGTERM, signal.SIGINT):
        srv = h.start_postern()
        srv.signal(sig)
        t.eq(srv.wait(10), 0, 'exit status after %s' % signal.Signals(sig).name)


if __name__ == '__main__':
    h.main()
