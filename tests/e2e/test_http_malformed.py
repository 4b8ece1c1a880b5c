#!/usr/bin/python3
"""Malformed requests against a running `postern serve` (issue 2, "Done when").

Every file tests/vectors/http/malformed/NAME.STATUS.http is sent as raw bytes on a fresh
connection: the answer must carry STATUS, and after an error the server must close the
connection. Meanwhile a keep-alive connection opened before the first malformed request must
still be served after each of them. Oversized requests are also streamed (no single write
holds them), which exercises the limits while the bytes are still arriving.
"""
import os
import socket
import time

import harness as h

VECTORS = h.vectors_dir('http', 'malformed')


def vector_files():
    try:
        names = sorted(f for f in os.listdir(VECTORS) if f.endswith('.http'))
    except FileNotFoundError:
        return []
    return names


def expected_status(name):
    return int(name.rsplit('.', 2)[1])


class Bystander:
    """A keep-alive connection opened first; must keep being served."""

    def __init__(self, t, port):
        self.t = t
        self.conn = h.Conn(port, timeout=5)
        t.defer(self.conn.close)
        self.check('before')

    def check(self, after):
        self.conn.send(b'GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n')
        r = self.conn.read_response()
        self.t.eq((r.status, r.body), (200, b'ok\n'), 'keep-alive connection after %s' % after)


def send_and_check(t, port, data, want, name):
    with h.Conn(port, timeout=10) as c:
        try:
            c.send(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before an oversized request is all sent
        try:
            r = c.read_response()
        except (EOFError, ConnectionResetError) as e:
            t.fail('%s: no response (%s)' % (name, e))
        t.eq(r.status, want, name)
        if want >= 400:
            t.eq(r.header('connection'), 'close', '%s: Connection header' % name)
            t.ok(c.is_closed(3.0), '%s: connection left open after %d' % (name, want))
        return r


@h.test
def every_malformed_vector_gets_its_status(t):
    files = vector_files()
    t.ge(len(files), 40, 'vectors in %s' % VECTORS)
    srv = h.start_postern()
    by = Bystander(t, srv.port)
    for name in files:
        with open(os.path.join(VECTORS, name), 'rb') as f:
            data = f.read()
        send_and_check(t, srv.port, data, expected_status(name), name)
        by.check(name)
    t.ok(srv.alive(), 'server died')
    t.ok('AddressSanitizer' not in srv.log() and 'runtime error' not in srv.log(),
         'sanitizer report in the server log')


@h.test
def malformed_bytes_split_across_writes(t):
    """The same vectors, dribbled in small pieces: the verdict must not depend on how
    the bytes are cut (the parser runs again on every arrival)."""
    srv = h.start_postern()
    by = Bystander(t, srv.port)
    for name in vector_files():
        with open(os.path.join(VECTORS, name), 'rb') as f:
            data = f.read()
        if len(data) > 2000:
            continue  # the large ones are streamed below
        want = expected_status(name)
        with h.Conn(srv.port, timeout=10) as c:
            c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                for i in range(0, len(data), 7):
                    c.send(data[i:i + 7])
                    time.sleep(0.001)
            except (BrokenPipeError, ConnectionResetError):
                pass
            r = c.read_response()
            t.eq(r.status, want, name + ' (split)')
            if want >= 400:
                t.ok(c.is_closed(3.0), '%s (split): connection left open' % name)
    by.check('split vectors')


def stream(t, port, parts, want, name):
    """Sends parts one by one until the server answers; checks the status and the close."""
    with h.Conn(port, timeout=10) as c:
        for p in parts:
            try:
                c.send(p)
            except (BrokenPipeError, ConnectionResetError):
                break
        r = c.read_response()
        t.eq(r.status, want, name)
        t.ok(c.is_closed(3.0), '%s: connection left open' % name)


@h.test
def oversized_requests_streamed(t):
    srv = h.start_postern()
    by = Bystander(t, srv.port)
    # A request line that never ends: 414 once it passes 8 KiB.
    stream(t, srv.port, [b'GET /'] + [b'a' * 4096] * 4, 414, 'endless request line')
    by.check('endless request line')
    # A request line of exactly 8 KiB is fine (then 404: no such route... or 200 for healthz).
    target = b'/healthz?' + b'q' * (8192 - len(b'GET /healthz? HTTP/1.1'))
    line = b'GET ' + target + b' HTTP/1.1\r\n'
    t.eq(len(line), 8192 + 2)
    with h.Conn(srv.port) as c:
        c.send(line + b'Host: x\r\n\r\n')
        t.eq(c.read_response().status, 200, 'request line of 8 KiB')
    # One header line that never ends: 431 once the header section passes 64 KiB.
    stream(t, srv.port, [b'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: '] + [b'b' * 8192] * 10,
           431, 'endless header line')
    # Many header lines: 431 at the 101st.
    stream(t, srv.port, [b'GET /healthz HTTP/1.1\r\nHost: x\r\n'] +
           [b'X-%d: v\r\n' % i for i in range(150)], 431, 'header count')
    # A chunked body that keeps coming: 413 once it passes the route's 64 KiB.
    stream(t, srv.port, [b'POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n'] +
           [b'1000\r\n' + b'c' * 4096 + b'\r\n'] * 40, 413, 'endless chunked body')
    # Content-Length over the limit: 413 before any body byte.
    stream(t, srv.port, [b'POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n'],
           413, 'content-length over the limit')
    by.check('oversized requests')


@h.test
def random_bytes_never_hurt_the_server(t):
    """Garbage, and valid heads with corrupted bytes, on many connections: every connection
    gets an answer or a close, and the server keeps serving."""
    import random
    rnd = random.Random(20261129)
    srv = h.start_postern()
    by = Bystander(t, srv.port)
    base = (b'POST /healthz?a=1 HTTP/1.1\r\nHost: localhost\r\nCookie: a=b\r\n'
            b'Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n')
    for i in range(300):
        if i % 3 == 0:
            data = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 200)))
        else:
            data = bytearray(base)
            for _ in range(rnd.randrange(1, 4)):
                data[rnd.randrange(len(data))] = rnd.randrange(256)
            data = bytes(data)
        with h.Conn(srv.port, timeout=5) as c:
            try:
                c.send(data)
                c.sock.shutdown(socket.SHUT_WR)  # no more bytes: answer or close now
                got = c.read_until_close()
            except (ConnectionResetError, BrokenPipeError):
                got = b''
            t.ok(got == b'' or got.startswith(b'HTTP/1.1 '), 'case %d: %r' % (i, got[:40]))
    by.check('random bytes')
    t.ok('AddressSanitizer' not in srv.log() and 'runtime error' not in srv.log(),
         'sanitizer report in the server log')


@h.test
def unknown_route_and_version_answers(t):
    srv = h.start_postern()
    r = h.request(srv.port, 'GET', '/no-such-path')
    t.eq(r.status, 404)
    with h.Conn(srv.port) as c:
        c.send(b'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n\r\n')  # a stray empty line after
        t.eq(c.read_response().status, 200)
        c.send(b'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n')      # skipped before this one
        t.eq(c.read_response().status, 200)


if __name__ == '__main__':
    h.main()
