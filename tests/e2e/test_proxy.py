#!/usr/bin/python3
"""The reverse proxy of src/http (issue 4 item 6): http_proxy against origins written here.

tests/e2e/proxy_fixture.c serves one HTTP_BODY_STREAM route that proxies everything to the
origin URL on its command line, removing client headers that start with "cf-access-" and
adding "Cf-Access-Jwt-Assertion: test". Origins are small HTTP/1.1 servers on raw sockets
(below), so that a test controls every byte they send and sees every byte they receive.
"""
import base64
import hashlib
import json
import os
import re
import signal
import socket
import ssl
import struct
import threading
import time
import zlib

import harness as h

MiB = 1024 * 1024
GiB = 1024 * MiB
BLOCK = bytes(range(256)) * 4096  # 1 MiB of a pattern that shows shifted or lost bytes


# ---- origins --------------------------------------------------------------------------------

class Request:
    """A request as an origin received it: method, target, version, headers (as sent), the
    raw head, and the body (read by read_body / stream_body)."""

    def __init__(self, conn, method, target, version, headers, raw_head):
        self.conn = conn
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.raw_head = raw_head
        self.body = b''
        self.body_len = 0
        self.body_crc = 0
        self.raw_framing = b''  # the first bytes of the body as sent on the wire

    def header(self, name, default=None):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return default

    def header_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def names(self):
        return [k for k, _ in self.headers]

    def stream_body(self, keep=True):
        """Reads the body (Content-Length or chunked), keeping only a CRC and a length
        unless keep."""
        c = self.conn
        te = (self.header('transfer-encoding') or '').lower()
        cl = self.header('content-length')
        if te:
            if te != 'chunked':
                raise ValueError('origin: unexpected Transfer-Encoding %r' % te)
            while True:
                line = c.line()
                self.raw_framing += line[:64] + b'\r\n' if len(self.raw_framing) < 4096 else b''
                size = int(line, 16)  # a chunk extension would raise here
                if size == 0:
                    if c.line() != b'':
                        raise ValueError('origin: trailer fields were forwarded')
                    break
                self._data(c.take_stream(size), keep)
                if c.take(2) != b'\r\n':
                    raise ValueError('origin: bad chunk end')
        elif cl is not None:
            self._data(c.take_stream(int(cl)), keep)

    def _data(self, chunks, keep):
        for d in chunks:
            self.body_len += len(d)
            self.body_crc = zlib.crc32(d, self.body_crc)
            if keep:
                self.body += d


class OriginConn:
    def __init__(self, origin, sock):
        self.origin = origin
        self.sock = sock
        self.buf = b''
        self.closed_by_peer = threading.Event()

    def fill(self):
        d = self.sock.recv(MiB)
        if not d:
            raise EOFError
        self.origin.raw_in += len(d)
        self.buf += d

    def line(self):
        while b'\r\n' not in self.buf:
            self.fill()
        line, self.buf = self.buf.split(b'\r\n', 1)
        return line

    def take(self, n):
        while len(self.buf) < n:
            self.fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def take_stream(self, n):
        while n > 0:
            if not self.buf:
                self.fill()
            d = self.buf[:n]
            self.buf = self.buf[len(d):]
            n -= len(d)
            yield d

    def read_request(self):
        while b'\r\n\r\n' not in self.buf:
            self.fill()
        head, self.buf = self.buf.split(b'\r\n\r\n', 1)
        lines = head.decode('latin-1').split('\r\n')
        method, target, version = lines[0].split(' ')
        headers = []
        for line in lines[1:]:
            k, _, v = line.partition(':')
            headers.append((k, v.strip()))
        req = Request(self, method, target, version, headers, head)
        self.origin.requests.append(req)
        return req

    def send(self, data):
        self.sock.sendall(data.encode('latin-1') if isinstance(data, str) else data)

    def respond(self, status=200, body=b'', headers=(), reason='OK', framing='cl'):
        """framing: 'cl', 'chunked', 'close' (no length: the body ends with the close)."""
        head = 'HTTP/1.1 %d %s\r\n' % (status, reason)
        head += ''.join('%s: %s\r\n' % kv for kv in headers)
        if framing == 'cl':
            head += 'Content-Length: %d\r\n' % len(body)
        elif framing == 'chunked':
            head += 'Transfer-Encoding: chunked\r\n'
        elif framing == 'close':
            head += 'Connection: close\r\n'
        self.send(head + '\r\n')
        if framing == 'chunked':
            if body:
                self.send(b'%x\r\n%s\r\n' % (len(body), body))
            self.send(b'0\r\n\r\n')
        else:
            self.send(body)
        return framing != 'close'


class Origin:
    """A threaded HTTP/1.1 origin on 127.0.0.1. handler(conn, req) answers one request and
    returns True to keep the connection. Counts connections; keeps every request."""

    def __init__(self, handler=None, tls_context=None):
        self.handler = handler or default_handler
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(('127.0.0.1', 0))
        self.lsock.listen(128)
        self.port = self.lsock.getsockname()[1]
        self.tls_context = tls_context
        self.connections = 0
        self.closed = 0  # connections the proxy closed (EOF seen between or inside requests)
        self.requests = []
        self.raw_in = 0
        self.errors = []
        self.socks = []
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path=''):
        return '%s://127.0.0.1:%d%s' % ('https' if self.tls_context else 'http', self.port, path)

    def _accept(self):
        while not self.stopping:
            try:
                s, _ = self.lsock.accept()
            except OSError:
                return
            self.connections += 1
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.socks.append(s)
            threading.Thread(target=self._serve, args=(s,), daemon=True).start()

    def _serve(self, s):
        try:
            if self.tls_context is not None:
                s = self.tls_context.wrap_socket(s, server_side=True)
            conn = OriginConn(self, s)
            while True:
                try:
                    req = conn.read_request()
                except (EOFError, ConnectionError):
                    self.closed += 1
                    return
                if not self.handler(conn, req):
                    return
        except (EOFError, ConnectionError, ssl.SSLError, socket.timeout, OSError) as e:
            self.errors.append(repr(e))
            self.closed += 1
        except Exception as e:  # noqa: B902 - shown in the test's diagnostics
            self.errors.append(repr(e))
        finally:
            try:
                s.close()
            except OSError:
                pass

    def stop(self):
        self.stopping = True
        self.lsock.close()
        for s in self.socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass


def query(req):
    q = req.target.partition('?')[2]
    return dict(p.partition('=')[::2] for p in q.split('&') if p)


def stream_download(conn, n, framing, head_only=False):
    head = 'HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n'
    if framing == 'cl':
        head += 'Content-Length: %d\r\n' % n
    elif framing == 'chunked':
        head += 'Transfer-Encoding: chunked\r\n'
    else:
        head += 'Connection: close\r\n'
    conn.send(head + '\r\n')
    left = 0 if head_only else n  # RFC 9110 9.3.2: no content in an answer to HEAD
    while left > 0:
        d = BLOCK[:min(left, len(BLOCK))]
        if framing == 'chunked':
            conn.send(b'%x\r\n' % len(d) + d + b'\r\n')
        else:
            conn.send(d)
        left -= len(d)
    if framing == 'chunked' and not head_only:
        conn.send(b'0\r\n\r\n')
    return framing != 'close'


def default_handler(conn, req):
    """/download?n=N&framing=cl|chunked|close, /slow?ms=N, /status/NNN, anything else: a
    JSON echo of what the origin received (method, target, headers, body length and CRC)."""
    path = req.target.partition('?')[0]
    q = query(req)
    req.stream_body(keep=req.method != 'PUT')
    if path.startswith('/download'):
        return stream_download(conn, int(q.get('n', '1000')), q.get('framing', 'cl'),
                               head_only=req.method == 'HEAD')
    if path.startswith('/slow'):
        time.sleep(int(q.get('ms', '1000')) / 1000)
    if path.startswith('/status/'):
        status = int(path[8:11])
        return conn.respond(status, b'', [('X-Status', str(status))],
                            framing='none' if status in (204, 304) else 'cl')
    body = json.dumps({'method': req.method, 'target': req.target, 'version': req.version,
                       'headers': req.headers, 'body_len': req.body_len,
                       'body_crc': req.body_crc}).encode()
    return conn.respond(200, body, [('Content-Type', 'application/json')])


# ---- the fixture and clients ------------------------------------------------------------------

def fixture_bin():
    p = os.environ.get('PROXY_FIXTURE')
    if not p:
        raise h.TestFailure('PROXY_FIXTURE is not set (run through meson test)')
    return p


def start_proxy(t, origin_url, *args, tls=None, env=None):
    """Starts proxy_fixture towards origin_url; tls: (cert, key) for an https listener."""
    port = h.free_port()
    argv = [fixture_bin(), '--listen', '127.0.0.1:%d' % port, '--origin', origin_url,
            '--threads', '2'] + [str(a) for a in args]
    if tls:
        argv += ['--tls-cert', tls[0], '--tls-key', tls[1]]
    srv = h.Server('proxy_fixture', argv, port, scheme='https' if tls else 'http', env=env)
    srv.wait_ready('/__fixture/healthz',
                   tls_context=h.insecure_tls_context() if tls else None)
    return srv


def with_origin(t, handler=None, tls_context=None):
    o = Origin(handler, tls_context)
    t.defer(o.stop)
    return o


def get_json(r):
    return json.loads(r.body.decode())


def names_lower(info):
    return [k.lower() for k, _ in info['headers']]


def vm(pid, field):
    """VmRSS / VmHWM of a process, in KiB."""
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise h.TestFailure('no %s for pid %d' % (field, pid))


def access_log_has(srv, pattern, timeout=3.0):
    return h.wait_until(lambda: re.search(pattern, srv.log()), timeout)


# ---- what the origin sees ---------------------------------------------------------------------

@h.test
def get_is_forwarded_with_forwarding_headers(t):
    o = with_origin(t)
    px = start_proxy(t, o.url())
    r = h.request(px.port, 'GET', '/hello/world?a=1&b=%20x', host='service.localhost:8443',
                  headers={'Accept': 'text/plain', 'User-Agent': 'e2e'})
    t.eq(r.status, 200)
    info = get_json(r)
    t.eq(info['method'], 'GET')
    t.eq(info['target'], '/hello/world?a=1&b=%20x')
    t.eq(info['version'], 'HTTP/1.1')
    req = o.requests[-1]
    t.eq(req.header('host'), 'service.localhost:8443', 'original Host kept')
    t.eq(req.header('x-forwarded-for'), '127.0.0.1')
    t.eq(req.header('x-forwarded-proto'), 'http')
    t.eq(req.header('x-forwarded-host'), 'service.localhost:8443')
    t.eq(req.header('accept'), 'text/plain')
    t.eq(req.header('user-agent'), 'e2e')
    t.eq(req.header_all('cf-access-jwt-assertion'), ['test'])
    t.eq(req.header('connection'), 'keep-alive')
    t.eq(r.header('content-type'), 'application/json')
    t.ok(r.header('date'), 'Date forwarded or added')
    t.ok(access_log_has(px, r'127\.0\.0\.1 GET /hello/world 200 %d ' % len(r.body)),
         'access log line with status and bytes')


@h.test
def spoofed_cf_access_headers_never_reach_the_origin(t):
    o = with_origin(t)
    px = start_proxy(t, o.url())
    spoof = [('Cf-Access-Jwt-Assertion', 'forged.jwt.sig'),
             ('CF-ACCESS-AUTHENTICATED-USER-EMAIL', 'admin@example.com'),
             ('cf-access-client-id', 'x'), ('cF-aCcEsS-Client-Secret', 'y'),
             ('Cf_Access_Jwt_Assertion', 'forged-underscore'),
             ('CF_ACCESS_AUTHENTICATED_USER_EMAIL', 'admin@example.com'),
             ('Cf-Access_Jwt-Assertion', 'mixed'), ('X_Forwarded_For', '10.0.0.1'),
             ('X-Keep', 'yes')]
    r = h.request(px.port, 'GET', '/', headers=spoof)
    t.eq(r.status, 200)
    req = o.requests[-1]
    cf = [(k, v) for k, v in req.headers if k.lower().replace('_', '-').startswith('cf-access')]
    t.eq(cf, [('Cf-Access-Jwt-Assertion', 'test')], 'only the added header')
    t.eq([k for k in req.names() if '_' in k], [], 'no header name with an underscore')
    t.eq(req.header('x-keep'), 'yes')
    t.eq(req.header('x-forwarded-for'), '127.0.0.1')


@h.test
def hop_by_hop_headers_are_removed_both_ways(t):
    def handler(conn, req):
        req.stream_body()
        return conn.respond(200, b'ok', [('Connection', 'X-Origin-Hop, keep-alive'),
                                         ('X-Origin-Hop', 'secret'), ('Keep-Alive', 'timeout=5'),
                                         ('Proxy-Connection', 'keep-alive'), ('Trailer', 'X-T'),
                                         ('Upgrade', 'h2c'), ('X-End', 'kept')])
    o = with_origin(t, handler)
    px = start_proxy(t, o.url())
    with h.Conn(px.port) as c:
        c.send(h.build_request('GET', '/', [
            ('Connection', 'X-Client-Hop, keep-alive, Upgrade'), ('X-Client-Hop', 'secret'),
            ('Keep-Alive', '300'), ('Proxy-Connection', 'keep-alive'), ('TE', 'trailers'),
            ('Trailer', 'X-T'), ('Upgrade', 'h2c'), ('X-Client-End', 'kept')]))
        r = c.read_response()
    t.eq(r.status, 200)
    req = o.requests[-1]
    for name in ('x-client-hop', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade'):
        t.eq(req.header(name), None, 'request header %s' % name)
    t.eq(req.header('connection'), 'keep-alive')
    t.eq(req.header('x-client-end'), 'kept')
    for name in ('x-origin-hop', 'keep-alive', 'proxy-connection', 'trailer', 'upgrade'):
        t.eq(r.header(name), None, 'response header %s' % name)
    t.eq(r.header('connection'), 'keep-alive')
    t.eq(r.header('x-end'), 'kept')
    t.eq(r.body, b'ok')


@h.test
def x_forwarded_for_is_appended_and_proto_host_are_ours(t):
    o = with_origin(t)
    px = start_proxy(t, o.url())
    r = h.request(px.port, 'GET', '/', host='app.localhost', headers=[
        ('X-Forwarded-For', '203.0.113.7'), ('X-Forwarded-For', '198.51.100.1, 10.0.0.2'),
        ('X-Forwarded-Proto', 'https'), ('X-Forwarded-Host', 'evil.example')])
    t.eq(r.status, 200)
    req = o.requests[-1]
    t.eq(req.header_all('x-forwarded-for'), ['203.0.113.7, 198.51.100.1, 10.0.0.2, 127.0.0.1'])
    t.eq(req.header_all('x-forwarded-proto'), ['http'])
    t.eq(req.header_all('x-forwarded-host'), ['app.localhost'])


@h.test
def the_origin_sees_the_canonical_path(t):
    o = with_origin(t)
    px = start_proxy(t, o.url())
    cases = [('/a/./b/../c//d?x=%2e%2e&y', '/a/c/d?x=%2e%2e&y'),
             ('/public/%2e%2e/admin', '/admin'),
             ('/public/..;x/admin', None),
             ('/bypass;/../admin', '/admin'),
             ('/x;y=1/z', '/x;y=1/z'),
             ('/a%20b/caf%C3%A9', '/a%20b/caf%C3%A9'),
             ('/%7euser/%41', '/~user/A'),
             ('/q%3fnot-a-query', '/q%3Fnot-a-query'),
             ('/pct%25', '/pct%25'),
             ('/%2e%2e/etc/passwd', None),
             ('/a%2fb', None),
             ('/a%5cb', None),
             ('//double//slash/', '/double/slash/'),
             ('/empty?', '/empty?')]
    for sent, seen in cases:
        before = len(o.requests)
        r = h.request(px.port, 'GET', sent)
        if seen is None:
            t.eq(r.status, 400, sent)
            t.eq(len(o.requests), before, '%s reached the origin' % sent)
        else:
            t.eq(r.status, 200, sent)
            t.eq(get_json(r)['target'], seen, sent)


@h.test
def a_base_path_prefixes_the_request_path(t):
    o = with_origin(t)
    px = start_proxy(t, o.url('/base/'))
    r = h.request(px.port, 'GET', '/a/b?c=d')
    t.eq(get_json(r)['target'], '/base/a/b?c=d')


# ---- bodies and framing towards the origin ------------------------------------------------------

@h.test
def a_content_length_body_is_forwarded_with_its_length(t):
    o = with_origin(t)
    px = start_proxy(t, o.url())
    body = os.urandom(300 * 1024)
    r = h.request(px.port, 'POST', '/upload', body=body)
    t.eq(r.status, 200)
    info = get_json(r)
    t.eq((info['body_len'], info['body_crc']), (len(body), zlib.crc32(body)))
    req = o.requests[-1]
    t.eq(req.header('content-length'), str(len(body)))
    t.eq(req.header('transfer-encoding'), None)
    # An empty body keeps its explicit length; no body at all, no framing header.
    r = h.request(px.port, 'POST', '/upload', body=b'')
    t.eq(get_json(r)['body_len'], 0)
    t.eq(o.requests[-1].header('content-length'), '0')
    h.request(px.port, 'GET', '/')
    t.eq((o.requests[-1].header('content-length'), o.requests[-1].header('transfer-encoding')),
         (None, None))


@h.test
def a_chunked_body_is_decoded_and_chunked_again(t):
    o = with_origin(t)
    px = start_proxy(t, o.url())
    with h.Conn(px.port) as c:
        c.send(b'POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n'
               b'5;name=value\r\nhello\r\n'
               b'7;a="q;uoted"\r\n, world\r\n'
               b'0\r\nX-Trailer: dropped\r\n\r\n')
        r = c.read_response()
    t.eq(r.status, 200)
    info = get_json(r)
    t.eq((info['body_len'], info['body_crc']), (12, zlib.crc32(b'hello, world')))
    req = o.requests[-1]
    t.eq(req.header('transfer-encoding'), 'chunked')
    t.eq(req.header('content-length'), None)
    t.eq(b';' in req.raw_framing, False, 'chunk extensions were forwarded')
    t.eq(req.header('x-trailer'), None)


@h.test
def smuggling_attempts_are_refused_before_the_origin(t):
    o = with_origin(t)
    px = start_proxy(t, o.url())
    attacks = [
        b'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n'
        b'0\r\n\r\n',
        b'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n'
        b'0\r\n\r\n',
        b'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde',
        b'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4, 5\r\n\r\nabcde',
        b'POST / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\nContent-Length: 1\r\n\r\nx',
        b'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n',
        b'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n',
        b'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n',
        b'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
        b'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n',
        b'GET /\x00 HTTP/1.1\r\nHost: a\r\n\r\n',
        b'GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n',
    ]
    for raw in attacks:
        with h.Conn(px.port) as c:
            c.send(raw)
            r = c.read_response()
            t.ok(r.status in (400, 501), '%r: status %d' % (raw[:60], r.status))
            t.ok(c.is_closed(), '%r: connection kept after a framing error' % raw[:60])
    t.eq(len(o.requests), 0, 'a malformed request reached the origin')


@h.test
def a_malformed_chunk_cuts_the_origin_connection(t):
    o = with_origin(t)
    px = start_proxy(t, o.url())
    for bad in (b'0x5\r\nhello\r\n0\r\n\r\n', b'5 \r\nhello\r\n0\r\n\r\n',
                b'5\r\nhelloX\r\n0\r\n\r\n', b'5\nhello\r\n0\r\n\r\n'):
        with h.Conn(px.port) as c:
            c.send(b'POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n' + bad)
            r = c.read_response()
            t.eq(r.status, 400, repr(bad))
            t.ok(c.is_closed(), 'client connection kept')
    # The origin saw heads whose bodies never completed, and no request was answered.
    t.ok(h.wait_until(lambda: o.closed >= len(o.requests)), 'origin connections left open')
    t.eq([r.body_len for r in o.requests if r.body_len > 5], [])


@h.test
def a_request_hidden_in_a_body_stays_a_body(t):
    o = with_origin(t)
    px = start_proxy(t, o.url())
    hidden = b'GET /secret HTTP/1.1\r\nHost: a\r\n\r\n'
    with h.Conn(px.port) as c:
        # Two requests in one write: a POST whose body looks like a request, then a real one.
        c.send(h.build_request('POST', '/first', body=hidden) +
               h.build_request('GET', '/second'))
        r1, r2 = c.read_response(), c.read_response()
    t.eq(get_json(r1)['target'], '/first')
    t.eq(get_json(r1)['body_len'], len(hidden))
    t.eq(get_json(r2)['target'], '/second')
    t.eq([r.target for r in o.requests], ['/first', '/second'])
    t.eq(o.requests[0].body, hidden)
    # The same with a chunked body.
    with h.Conn(px.port) as c:
        c.send(b'POST /third HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n' +
               b'%x\r\n%s\r\n0\r\n\r\n' % (len(hidden), hidden) + h.build_request('GET', '/fourth'))
        r3, r4 = c.read_response(), c.read_response()
    t.eq((get_json(r3)['target'], get_json(r4)['target']), ('/third', '/fourth'))
    t.eq([r.target for r in o.requests], ['/first', '/second', '/third', '/fourth'])


@h.test
def expect_100_continue_is_answered_by_the_proxy(t):
    o = with_origin(t)
    px = start_proxy(t, o.url())
    with h.Conn(px.port) as c:
        c.send(b'PUT /put HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n')
        r = c.read_response(allow_1xx=True)
        t.eq(r.status, 100)
        c.send(b'hello')
        r = c.read_response()
        t.eq(r.status, 200)
        t.eq(get_json(r)['body_len'], 5)
    t.eq(o.requests[-1].header('expect'), None)


# ---- responses towards the client ---------------------------------------------------------------

@h.test
def response_framing_is_redone_for_the_client(t):
    o = with_origin(t)
    px = start_proxy(t, o.url())
    n = 200000
    want = (BLOCK * 1)[:n]
    for framing, te, cl in (('cl', None, str(n)), ('chunked', 'chunked', None),
                            ('close', 'chunked', None)):
        with h.Conn(px.port) as c:
            c.send(h.build_request('GET', '/download?n=%d&framing=%s' % (n, framing)))
            r = c.read_response()
            t.eq((r.status, r.header('transfer-encoding'), r.header('content-length')),
                 (200, te, cl), framing)
            t.eq(r.body, want, framing)
            # The client connection stays usable after each framing.
            c.send(h.build_request('GET', '/again'))
            t.eq(c.read_response().status, 200)
    # An HTTP/1.0 client cannot take chunks: the end of the body is the close.
    with h.Conn(px.port) as c:
        c.send(b'GET /download?n=1000&framing=close HTTP/1.0\r\n\r\n')
        r = c.read_response()
        t.eq((r.header('transfer-encoding'), r.header('connection')), (None, 'close'))
        t.eq(r.body, BLOCK[:1000])


@h.test
def head_204_and_304_have_no_body(t):
    o = with_origin(t)
    px = start_proxy(t, o.url())
    with h.Conn(px.port) as c:
        c.send(h.build_request('HEAD', '/download?n=12345'))
        r = c.read_response(head_request=True)
        t.eq((r.status, r.header('content-length')), (200, '12345'))
        c.send(h.build_request('GET', '/status/204'))
        r = c.read_response()
        t.eq((r.status, r.header('content-length'), r.body), (204, None, b''))
        c.send(h.build_request('GET', '/status/304'))
        r = c.read_response()
        t.eq((r.status, r.body, r.header('x-status')), (304, b'', '304'))
        c.send(h.build_request('GET', '/after'))
        t.eq(get_json(c.read_response())['target'], '/after')


@h.test
def interim_responses_from_the_origin_are_dropped(t):
    def handler(conn, req):
        req.stream_body()
        conn.send('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n')
        return conn.respond(200, b'final')
    o = with_origin(t, handler)
    px = start_proxy(t, o.url())
    r = h.request(px.port, 'GET', '/')
    t.eq((r.status, r.body), (200, b'final'))


# ---- origin failures ------------------------------------------------------------------------------

@h.test
def an_unreachable_origin_is_a_502_page(t):
    port = h.free_port()  # nothing listens there
    px = start_proxy(t, 'http://127.0.0.1:%d' % port)
    r = h.request(px.port, 'GET', '/', headers={'Accept': 'text/html'})
    t.eq(r.status, 502)
    t.contains(r.body, b'502 Bad Gateway')
    r = h.request(px.port, 'GET', '/', headers={'Accept': 'application/json'})
    t.eq((r.status, get_json(r)), (502, {'error': 'Bad Gateway'}))
    t.ok(access_log_has(px, r'GET / 502 '), 'access log')
    t.contains(px.log(), 'cannot connect')


@h.test
def no_response_in_time_is_a_504_page(t):
    def silent(conn, req):
        conn.sock.settimeout(5)
        if conn.sock.recv(1) == b'':  # waits for the proxy to give up on the connection
            o.closed += 1
        return False
    o = with_origin(t, silent)
    px = start_proxy(t, o.url(), '--response-timeout', 500)
    t0 = time.monotonic()
    r = h.request(px.port, 'GET', '/')
    t.eq(r.status, 504)
    t.le(time.monotonic() - t0, 3.0)
    t.ok(h.wait_until(lambda: o.closed >= 1, 3), 'origin connection not closed')


@h.test
def no_connection_in_time_is_a_504_page(t):
    # A listener whose accept queue is full: the kernel drops the SYN, connect() hangs.
    ls = socket.socket()
    ls.bind(('127.0.0.1', 0))
    ls.listen(0)
    t.defer(ls.close)
    fillers = []
    for _ in range(3):
        f = socket.socket()
        f.setblocking(False)
        f.connect_ex(ls.getsockname())
        fillers.append(f)
    t.defer(lambda: [f.close() for f in fillers])
    time.sleep(0.2)
    px = start_proxy(t, 'http://127.0.0.1:%d' % ls.getsockname()[1], '--connect-timeout', 500)
    t0 = time.monotonic()
    r = h.request(px.port, 'GET', '/', timeout=10)
    t.eq(r.status, 504)
    t.le(time.monotonic() - t0, 4.0)


@h.test
def garbage_from_the_origin_is_a_502(t):
    answers = [
        b'HELLO\r\n\r\n',
        b'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
        b'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc',
        b'HTTP/1.1 200 OK\r\nX-A: b\r\n folded\r\nContent-Length: 0\r\n\r\n',
        b'HTTP/1.1 200 OK\r\nX-A: b\x00c\r\nContent-Length: 0\r\n\r\n',
        b'HTTP/1.1 200 OK\r\nX-A: b\rc\r\nContent-Length: 0\r\n\r\n',
        b'HTTP/1.1 200 OK\nContent-Length: 0\n\n',
        b'HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n',
        b'HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n',
        b'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n',
        b'HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 0\r\n\r\n',
        b'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n',
        b'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab',  # cut: origin closes mid-body
    ]
    box = {}

    def handler(conn, req):
        req.stream_body()
        conn.send(box['answer'])
        return False
    o = with_origin(t, handler)
    px = start_proxy(t, o.url())
    for a in answers[:-1]:
        box['answer'] = a
        r = h.request(px.port, 'GET', '/')
        t.eq(r.status, 502, repr(a))
    # Cut inside the body: the head went out already, so the client sees a short body and
    # the close.
    box['answer'] = answers[-1]
    with h.Conn(px.port) as c:
        c.send(h.build_request('GET', '/'))
        try:
            r = c.read_response()
            t.fail('a cut body was completed: %r' % r)
        except EOFError:
            pass


@h.test
def the_origin_connection_is_kept_alive_and_reused(t):
    o = with_origin(t)
    px = start_proxy(t, o.url(), '--threads', 1)
    with h.Conn(px.port) as c:
        for i in range(20):
            c.send(h.build_request('GET', '/n/%d' % i))
            t.eq(get_json(c.read_response())['target'], '/n/%d' % i)
    t.eq(o.connections, 1, 'origin connections for 20 sequential requests')
    # Many client connections, one after the other: still the pooled origin connection.
    for i in range(20):
        t.eq(h.request(px.port, 'GET', '/m/%d' % i).status, 200)
    t.eq(o.connections, 1)
    # A response that must be read to its close is never pooled: the request after it
    # needs a new connection.
    with h.Conn(px.port) as c:
        c.send(h.build_request('GET', '/download?n=10&framing=close'))
        c.read_response()
        c.send(h.build_request('GET', '/x'))
        c.read_response()
    t.eq(o.connections, 2, 'a close-delimited response left its connection pooled')


@h.test
def a_pooled_connection_closed_by_the_origin_is_retried_once(t):
    def handler(conn, req):
        # The first request of a connection is answered (keep-alive); a second one is
        # read and dropped with the connection, as an origin timing out idle connections
        # at that very moment would.
        conn.count = getattr(conn, 'count', 0) + 1
        req.stream_body()
        if conn.count > 1:
            return False
        return conn.respond(200, b'ok %s' % req.target.encode())
    o = with_origin(t, handler)
    px = start_proxy(t, o.url(), '--threads', 1)
    with h.Conn(px.port) as c:
        c.send(h.build_request('GET', '/a'))
        t.eq(c.read_response().body, b'ok /a')
        c.send(h.build_request('GET', '/b'))  # pooled connection dropped: retried
        t.eq(c.read_response().body, b'ok /b')
        t.eq(o.connections, 2)
        c.send(h.build_request('POST', '/c', body=b'data'))  # a body: never retried
        r = c.read_response()
        t.eq(r.status, 502)
        c.send(h.build_request('DELETE', '/d'))  # idempotent, no body: retried
        t.eq(c.read_response().body, b'ok /d')


@h.test
def a_client_that_goes_away_closes_the_origin_connection(t):
    o = with_origin(t)
    px = start_proxy(t, o.url())
    # While the origin is still thinking.
    with h.Conn(px.port) as c:
        c.send(h.build_request('GET', '/slow?ms=1500'))
        time.sleep(0.3)
    t.ok(h.wait_until(lambda: o.closed >= 1 or len(o.errors) >= 1, 5),
         'origin connection kept after the client left')
    # In the middle of a large download.
    before = len(o.errors) + o.closed
    with h.Conn(px.port) as c:
        c.send(h.build_request('GET', '/download?n=%d' % (512 * MiB)))
        c._fill()
    t.ok(h.wait_until(lambda: len(o.errors) + o.closed > before, 10),
         'origin still sending after the client left')
    t.ok(access_log_has(px, r'GET /download 200 \d+'), 'access log of the cut download')
    t.eq(h.request(px.port, 'GET', '/alive').status, 200)


# ---- requests the handler keeps, answers itself, or buffers ------------------------------------

@h.test
def a_stream_route_answering_itself_discards_a_small_body(t):
    o = with_origin(t)
    px = start_proxy(t, o.url())
    with h.Conn(px.port) as c:
        c.send(h.build_request('POST', '/__fixture/deny', body=b'x' * 20000))
        r = c.read_response()
        t.eq((r.status, r.header('connection')), (403, 'keep-alive'))
        c.send(h.build_request('GET', '/next'))
        t.eq(get_json(c.read_response())['target'], '/next')
        # chunked, small
        c.send(b'POST /__fixture/deny HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n'
               b'3\r\nabc\r\n0\r\n\r\n')
        t.eq(c.read_response().status, 403)
        c.send(h.build_request('GET', '/next2'))
        t.eq(get_json(c.read_response())['target'], '/next2')
    # A large body is not read: the connection closes after the answer.
    with h.Conn(px.port) as c:
        c.send(h.build_request('POST', '/__fixture/deny', headers={'Content-Length': str(GiB)}))
        r = c.read_response()
        t.eq((r.status, r.header('connection')), (403, 'close'))
        t.ok(c.is_closed(), 'connection kept')
    # A client waiting for 100 Continue may never send its body: close.
    with h.Conn(px.port) as c:
        c.send(b'POST /__fixture/deny HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n'
               b'Expect: 100-continue\r\n\r\n')
        r = c.read_response()
        t.eq((r.status, r.header('connection')), (403, 'close'))
    t.eq(len(o.requests), 2)


@h.test
def a_kept_request_is_proxied_later_with_its_body(t):
    o = with_origin(t)
    px = start_proxy(t, o.url())
    with h.Conn(px.port) as c:
        body = os.urandom(200 * 1024)
        c.send(h.build_request('POST', '/__fixture/later/x', body=body))
        info = get_json(c.read_response())
        t.eq((info['target'], info['body_len'], info['body_crc']),
             ('/__fixture/later/x', len(body), zlib.crc32(body)))
        c.send(h.build_request('GET', '/__fixture/later/y'))
        t.eq(get_json(c.read_response())['target'], '/__fixture/later/y')


@h.test
def a_buffered_route_is_proxied_with_a_length(t):
    o = with_origin(t)
    px = start_proxy(t, o.url())
    with h.Conn(px.port) as c:
        c.send(b'POST /__fixture/buffered/a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n'
               b'\r\n4\r\nbody\r\n0\r\n\r\n')
        info = get_json(c.read_response())
        t.eq((info['body_len'], info['body_crc']), (4, zlib.crc32(b'body')))
    req = o.requests[-1]
    t.eq((req.header('content-length'), req.header('transfer-encoding')), ('4', None))


@h.test
def response_headers_of_the_handler_are_added_to_the_origins(t):
    def handler(conn, req):
        req.stream_body()
        return conn.respond(200, b'ok', [('Set-Cookie', 'origin=1')])
    o = with_origin(t, handler)
    px = start_proxy(t, o.url())
    r = h.request(px.port, 'GET', '/__fixture/cookie/x')
    t.eq(r.status, 200)
    t.eq(sorted(r.header_all('set-cookie')), ['CF_Authorization=refreshed; HttpOnly', 'origin=1'])


@h.test
def an_invalid_added_header_is_refused(t):
    o = with_origin(t)
    px = start_proxy(t, o.url())
    r = h.request(px.port, 'GET', '/__fixture/badhdr')
    t.eq(r.status, 500)
    t.eq(len(o.requests), 0)


# ---- WebSocket pass-through ------------------------------------------------------------------------

WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'


def ws_accept(key):
    return base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()


def xor_mask(data, mask):
    n = len(data)
    m = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(data, 'big') ^ int.from_bytes(m, 'big')).to_bytes(n, 'big') if n else b''


def ws_frame(opcode, data, mask=None):
    b = bytes([0x80 | opcode])
    mbit = 0x80 if mask else 0
    n = len(data)
    if n < 126:
        b += bytes([mbit | n])
    elif n < 65536:
        b += bytes([mbit | 126]) + struct.pack('!H', n)
    else:
        b += bytes([mbit | 127]) + struct.pack('!Q', n)
    if mask:
        return b + mask + xor_mask(data, mask)
    return b + data


def ws_read_frame(take):
    b0, b1 = take(2)
    n = b1 & 0x7f
    if n == 126:
        n = struct.unpack('!H', take(2))[0]
    elif n == 127:
        n = struct.unpack('!Q', take(8))[0]
    mask = take(4) if b1 & 0x80 else None
    data = take(n)
    return b0 & 0x0f, xor_mask(data, mask) if mask else data


def ws_echo_handler(conn, req):
    """A WebSocket echo origin (RFC 6455): handshake, then every frame back, unmasked,
    until a close frame."""
    key = req.header('sec-websocket-key')
    if req.header('upgrade', '').lower() != 'websocket' or key is None:
        return conn.respond(426, b'upgrade required', [('Upgrade', 'websocket')])
    conn.send('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
              'Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: chat\r\n\r\n' % ws_accept(key))
    while True:
        opcode, data = ws_read_frame(conn.take)
        conn.send(ws_frame(opcode, data))
        if opcode == 8:
            return False


def ws_handshake(c, path='/ws', key=None, extra=()):
    key = key or base64.b64encode(os.urandom(16)).decode()
    c.send(h.build_request('GET', path, [('Upgrade', 'websocket'), ('Connection', 'Upgrade'),
                                         ('Sec-WebSocket-Key', key),
                                         ('Sec-WebSocket-Version', '13'),
                                         ('Sec-WebSocket-Protocol', 'chat')] + list(extra)))
    return key, c.read_response(allow_1xx=True)


@h.test
def a_websocket_is_tunnelled_to_the_origin(t):
    o = with_origin(t, ws_echo_handler)
    px = start_proxy(t, o.url())
    with h.Conn(px.port) as c:
        key, r = ws_handshake(c, extra=[('Cf-Access-Jwt-Assertion', 'forged')])
        t.eq(r.status, 101)
        t.eq(r.header('sec-websocket-accept'), ws_accept(key))
        t.eq(r.header('upgrade').lower(), 'websocket')
        t.eq(r.header('connection').lower(), 'upgrade')
        t.eq(r.header('sec-websocket-protocol'), 'chat')
        req = o.requests[-1]
        t.eq(req.header_all('cf-access-jwt-assertion'), ['test'])
        t.eq((req.header('upgrade'), req.header('connection')), ('websocket', 'Upgrade'))
        t.eq(req.header('sec-websocket-key'), key)
        mask = b'\x01\x02\x03\x04'
        for data in (b'hello', b'x' * 300, os.urandom(3 * MiB)):
            c.send(ws_frame(2, data, mask))
            t.eq(ws_read_frame(c._take), (2, data))
        c.send(ws_frame(8, b'\x03\xe8', mask))
        t.eq(ws_read_frame(c._take), (8, b'\x03\xe8'))
        t.ok(c.is_closed(5), 'tunnel kept after the origin closed')
    t.ok(access_log_has(px, r'GET /ws 101 \d+'), 'access log line of the tunnel')


@h.test
def a_client_closing_the_tunnel_closes_the_origin_side(t):
    o = with_origin(t, ws_echo_handler)
    px = start_proxy(t, o.url())
    with h.Conn(px.port) as c:
        _, r = ws_handshake(c)
        t.eq(r.status, 101)
        c.send(ws_frame(1, b'bye', b'abcd'))
        t.eq(ws_read_frame(c._take), (1, b'bye'))
    t.ok(h.wait_until(lambda: o.closed >= 1, 5), 'origin side kept after the client left')


@h.test
def an_idle_tunnel_is_closed(t):
    o = with_origin(t, ws_echo_handler)
    px = start_proxy(t, o.url(), '--tunnel-idle', 600)
    with h.Conn(px.port) as c:
        _, r = ws_handshake(c)
        t.eq(r.status, 101)
        time.sleep(0.3)
        c.send(ws_frame(1, b'still here', b'abcd'))  # traffic pushes the deadline
        t.eq(ws_read_frame(c._take), (1, b'still here'))
        t0 = time.monotonic()
        t.ok(c.is_closed(5), 'idle tunnel not closed')
        t.ok(0.3 < time.monotonic() - t0 < 3, 'closed after %.2f s' % (time.monotonic() - t0))


@h.test
def invalid_upgrades_are_not_tunnelled(t):
    o = with_origin(t, ws_echo_handler)
    px = start_proxy(t, o.url())
    # No key, a bad key, a wrong version, a POST: forwarded as plain requests, without the
    # upgrade (the origin answers 426 here).
    for extra, method in (([('Upgrade', 'websocket'), ('Connection', 'Upgrade')], 'GET'),
                          ([('Upgrade', 'websocket'), ('Connection', 'Upgrade'),
                            ('Sec-WebSocket-Key', 'c2hvcnQ='), ('Sec-WebSocket-Version', '13')],
                           'GET'),
                          ([('Upgrade', 'websocket'), ('Connection', 'Upgrade'),
                            ('Sec-WebSocket-Key', base64.b64encode(b'k' * 16).decode()),
                            ('Sec-WebSocket-Version', '8')], 'GET'),
                          ([('Upgrade', 'websocket'), ('Connection', 'Upgrade'),
                            ('Sec-WebSocket-Key', base64.b64encode(b'k' * 16).decode()),
                            ('Sec-WebSocket-Version', '13')], 'POST')):
        r = h.request(px.port, method, '/ws', headers=extra, body=b'' if method == 'POST' else None)
        t.eq(r.status, 426, repr(extra))
        t.eq(o.requests[-1].header('upgrade'), None)
    # An origin that answers 101 with the wrong accept value: 502.

    def bad_accept(conn, req):
        conn.send('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n'
                  'Connection: Upgrade\r\nSec-WebSocket-Accept: d3Jvbmc=\r\n\r\n')
        return False
    o2 = with_origin(t, bad_accept)
    px2 = start_proxy(t, o2.url())
    with h.Conn(px2.port) as c:
        _, r = ws_handshake(c)
        t.eq(r.status, 502)


@h.test
def shutdown_with_requests_and_tunnels_in_flight_frees_everything(t):
    o = with_origin(t)
    ow = with_origin(t, ws_echo_handler)
    px = start_proxy(t, o.url(), '--shutdown-timeout', 1000)
    pw = start_proxy(t, ow.url(), '--shutdown-timeout', 1000)
    slow = h.Conn(px.port, timeout=10)
    t.defer(slow.close)
    slow.send(h.build_request('GET', '/slow?ms=3000'))
    big = h.Conn(px.port, timeout=10)
    t.defer(big.close)
    big.send(h.build_request('GET', '/download?n=%d' % (256 * MiB)))
    big._fill()  # the response has started; the client stops reading
    ws = h.Conn(pw.port, timeout=10)
    t.defer(ws.close)
    _, r = ws_handshake(ws)
    t.eq(r.status, 101)
    h.request(px.port, 'GET', '/pooled')  # leaves a pooled origin connection
    time.sleep(0.2)
    for srv in (px, pw):
        srv.signal(signal.SIGTERM)
        t.eq(srv.wait(10), 0, 'exit status')
        t.eq(h.sanitizer_report(srv.log()), [])
        t.contains(srv.log(), 'proxy_fixture: stopped')


# ---- large bodies in constant memory ---------------------------------------------------------------

def read_head_raw(c):
    while b'\r\n\r\n' not in c.buf:
        c._fill()
    head, c.buf = c.buf.split(b'\r\n\r\n', 1)
    return head


def download(c, path, n, sample):
    """Reads a response of n body bytes (Content-Length) without keeping it; returns its
    CRC and calls sample() every 64 MiB."""
    c.send(h.build_request('GET', path))
    head = read_head_raw(c)
    if b' 200 ' not in head.split(b'\r\n')[0]:
        raise h.TestFailure('download: %r' % head[:200])
    crc, got, next_sample = zlib.crc32(c.buf), len(c.buf), 64 * MiB
    c.buf = b''
    buf = bytearray(MiB)
    while got < n:
        k = c.sock.recv_into(buf)
        if k == 0:
            raise h.TestFailure('download cut at %d bytes' % got)
        crc = zlib.crc32(memoryview(buf)[:k], crc)
        got += k
        if got >= next_sample:
            sample()
            next_sample += 64 * MiB
    return crc, got


def read_big_response(c):
    """Reads one response with a large body quickly (the harness's reader copies its buffer
    on every read): returns (head text, body)."""
    head = read_head_raw(c).decode('latin-1')
    buf = bytearray(c.buf)
    c.buf = b''
    pos = 0

    def need(n):
        while len(buf) - pos < n:
            d = c.sock.recv(4 * MiB)
            if not d:
                raise EOFError('cut')
            buf.extend(d)

    m = re.search(r'(?im)^content-length: *(\d+)', head)
    if m:
        need(int(m.group(1)))
        return head, bytes(buf[:int(m.group(1))])
    body = bytearray()
    while True:
        while True:
            i = buf.find(b'\r\n', pos)
            if i >= 0:
                break
            need(len(buf) - pos + 1)
        size = int(buf[pos:i], 16)
        pos = i + 2
        need(size + 2)
        body += buf[pos:pos + size]
        pos += size + 2
        if size == 0:
            return head, bytes(body)
        if pos > 64 * MiB:
            del buf[:pos]
            pos = 0


def pattern_crc(n):
    crc = 0
    for i in range(0, n, len(BLOCK)):
        crc = zlib.crc32(BLOCK[:min(len(BLOCK), n - i)], crc)
    return crc


@h.test
def a_1gb_download_and_a_1gb_upload_stream_in_constant_memory(t):
    o = with_origin(t)
    # ASan keeps freed memory in a quarantine (256 MB by default) that would count as
    # resident here: a small one measures the proxy, not the sanitizer.
    env = dict(os.environ, ASAN_OPTIONS=os.environ.get('ASAN_OPTIONS', '') +
               ':quarantine_size_mb=8:thread_local_quarantine_size_kb=256')
    px = start_proxy(t, o.url(), env=env)
    # Warm up both directions, then take the baseline.
    h.request(px.port, 'GET', '/download?n=%d' % (8 * MiB), timeout=30)
    h.request(px.port, 'PUT', '/up', body=BLOCK * 8, timeout=30)
    base = vm(px.pid, 'VmRSS')
    peak = [base]

    def sample():
        peak[0] = max(peak[0], vm(px.pid, 'VmRSS'))
    t0 = time.monotonic()
    with h.Conn(px.port, timeout=60) as c:
        crc, got = download(c, '/download?n=%d' % GiB, GiB, sample)
    t.eq(got, GiB)
    t.eq(crc, pattern_crc(GiB), 'downloaded bytes differ')
    t_down = time.monotonic() - t0
    t0 = time.monotonic()
    with h.Conn(px.port, timeout=60) as c:
        c.send(h.build_request('PUT', '/upload', headers={'Content-Length': str(GiB)}))
        for i in range(GiB // len(BLOCK)):
            c.sock.sendall(BLOCK)
            if i % 64 == 63:
                sample()
        info = get_json(c.read_response())
    t_up = time.monotonic() - t0
    t.eq((info['body_len'], info['body_crc']), (GiB, pattern_crc(GiB)), 'uploaded bytes differ')
    hwm = vm(px.pid, 'VmHWM')
    t.note('RSS baseline %d KiB, peak sampled %d KiB, VmHWM %d KiB; 1 GiB down %.1f s, up %.1f s'
           % (base, peak[0], hwm, t_down, t_up))
    print('# proxy RSS: baseline %d KiB, peak %d KiB (+%d KiB), VmHWM %d KiB; '
          '1 GiB download %.1f s, upload %.1f s' % (base, peak[0], peak[0] - base, hwm, t_down, t_up))
    t.le(peak[0] - base, 32 * 1024, 'RSS growth during the transfers (KiB)')


@h.test
def large_chunked_and_close_delimited_bodies_are_reframed(t):
    o = with_origin(t)
    px = start_proxy(t, o.url())
    n = 96 * MiB + 12345
    for framing in ('chunked', 'close'):
        with h.Conn(px.port, timeout=30) as c:
            c.send(h.build_request('GET', '/download?n=%d&framing=%s' % (n, framing)))
            head, body = read_big_response(c)
            t.contains(head, 'Transfer-Encoding: chunked', framing)
            t.eq((len(body), zlib.crc32(body)), (n, pattern_crc(n)), framing)
    with h.Conn(px.port, timeout=30) as c:
        c.send(b'PUT /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n')
        sent, crc = 0, 0
        for size in (1, 4095, MiB, 7 * MiB + 3, 33 * MiB, 17):
            data = (BLOCK * (size // len(BLOCK) + 1))[:size]
            c.send(b'%x\r\n' % size + data + b'\r\n')
            sent += size
            crc = zlib.crc32(data, crc)
        c.send(b'0\r\n\r\n')
        info = get_json(c.read_response())
        t.eq((info['body_len'], info['body_crc']), (sent, crc))


# ---- TLS on either side ------------------------------------------------------------------------------

@h.test
def a_tls_client_streams_bodies_and_websockets(t):
    cert, key = h.self_signed_cert()
    o = with_origin(t)
    px = start_proxy(t, o.url(), tls=(cert, key))
    ctx = h.insecure_tls_context()
    n = 48 * MiB
    with h.Conn(px.port, tls_context=ctx, timeout=30) as c:
        c.send(h.build_request('GET', '/download?n=%d' % n))
        _, body = read_big_response(c)
        t.eq((len(body), zlib.crc32(body)), (n, pattern_crc(n)))
        body = BLOCK * 48
        c.send(h.build_request('PUT', '/up', body=body))
        info = get_json(c.read_response())
        t.eq((info['body_len'], info['body_crc']), (len(body), zlib.crc32(body)))
    t.eq(o.requests[-1].header('x-forwarded-proto'), 'https')
    ow = with_origin(t, ws_echo_handler)
    pw = start_proxy(t, ow.url(), tls=(cert, key))
    with h.Conn(pw.port, tls_context=ctx, timeout=30) as c:
        _, r = ws_handshake(c)
        t.eq(r.status, 101)
        data = os.urandom(2 * MiB)
        c.send(ws_frame(2, data, b'wxyz'))
        t.eq(ws_read_frame(c._take), (2, data))


def tls_server_context(names):
    cert, key = h.self_signed_cert(names=names)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx, cert


@h.test
def an_https_origin_is_verified(t):
    ctx, cert = tls_server_context(('localhost', '127.0.0.1'))
    o = with_origin(t, tls_context=ctx)
    for host in ('localhost', '127.0.0.1'):
        px = start_proxy(t, 'https://%s:%d' % (host, o.port), '--ca-file', cert)
        r = h.request(px.port, 'GET', '/over/tls')
        t.eq((r.status, get_json(r)['target']), (200, '/over/tls'), host)
        px.stop()
    # Not trusted (the system store does not know this certificate): 502.
    px = start_proxy(t, 'https://localhost:%d' % o.port)
    t.eq(h.request(px.port, 'GET', '/').status, 502)
    t.contains(px.log(), 'certificate verification failed')
    px.stop()
    # Trusted, but for other names.
    ctx2, cert2 = tls_server_context(('other.test',))
    o2 = with_origin(t, tls_context=ctx2)
    px = start_proxy(t, 'https://localhost:%d' % o2.port, '--ca-file', cert2)
    t.eq(h.request(px.port, 'GET', '/').status, 502)
    t.contains(px.log(), 'certificate verification failed')


@h.test
def bad_origin_urls_are_refused_at_start(t):
    for url, msg in (('ftp://127.0.0.1:21', 'must start with http:// or https://'),
                     ('http://user@127.0.0.1:80', 'user info'),
                     ('http://127.0.0.1:80/?q=1', 'query'),
                     ('http://127.0.0.1:99999', 'invalid host or port'),
                     ('http://:80', 'invalid host or port'),
                     ('https://127.0.0.1:443', None)):
        srv = h.Server('proxy_fixture', [fixture_bin(), '--listen', '127.0.0.1:0', '--origin', url,
                                         '--ca-file', '/nonexistent.pem'], None)
        rc = srv.wait(10)
        if msg is None:
            t.eq(rc, 1, url)
            t.contains(srv.log(), 'cannot load the trusted certificates')
        else:
            t.eq(rc, 1, url)
            t.contains(srv.log(), msg)
        srv.stop()


if __name__ == '__main__':
    h.main()
