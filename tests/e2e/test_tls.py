#!/usr/bin/python3
"""TLS listeners (issue 2 item 2): TLS 1.2 and 1.3 served, older versions and weak ciphers
refused, failed handshakes closed without harm to anyone else."""
import ssl
import time
import warnings

import harness as h

warnings.simplefilter('ignore', DeprecationWarning)  # ssl.TLSVersion.TLSv1_1 is deprecated


def tls_ctx(minimum=None, maximum=None, ciphers=None):
    ctx = h.insecure_tls_context(minimum, maximum)
    if ciphers:
        ctx.set_ciphers(ciphers)
    return ctx


def postern_tls(t, **server):
    cert, key = h.self_signed_cert()
    port = h.free_port()
    plain = h.free_port()
    cfg = h.postern_config(port, **server)
    cfg['server']['listen'] = [{'address': '127.0.0.1:%d' % port,
                                'tls': {'cert': cert, 'key': key}},
                               '127.0.0.1:%d' % plain]
    srv = h.start_postern(cfg)
    return srv, plain


@h.test
def tls12_and_tls13_are_served(t):
    srv, plain = postern_tls(t)
    for version, name in ((ssl.TLSVersion.TLSv1_2, 'TLSv1.2'), (ssl.TLSVersion.TLSv1_3, 'TLSv1.3')):
        ctx = tls_ctx(version, version)
        with h.Conn(srv.port, tls_context=ctx) as c:
            t.eq(c.sock.version(), name)
            if name == 'TLSv1.2':
                cipher = c.sock.cipher()[0]
                t.ok(cipher.startswith('ECDHE-') and ('GCM' in cipher or 'CHACHA' in cipher),
                     'TLS 1.2 cipher %s' % cipher)
            for _ in range(3):  # keep-alive over TLS
                c.send(b'GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n')
                r = c.read_response()
                t.eq((r.status, r.body), (200, b'ok\n'))
    # The plain listener of the same server still speaks plain HTTP.
    t.eq(h.request(plain, 'GET', '/healthz').status, 200)


@h.test
def tls11_and_tls10_are_refused(t):
    srv, _ = postern_tls(t)
    for version in (ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.TLSv1):
        # SECLEVEL=0 so that the client really offers the old version (OpenSSL 3 would
        # otherwise refuse on its own and the test would prove nothing).
        ctx = tls_ctx(ssl.TLSVersion.TLSv1, version, 'DEFAULT:@SECLEVEL=0')
        try:
            h.Conn(srv.port, tls_context=ctx).close()
            t.fail('%s handshake succeeded' % version.name)
        except ssl.SSLError as e:
            t.eq(e.reason, 'TLSV1_ALERT_PROTOCOL_VERSION', version.name)
    # TLS 1.2 with only CBC suites (no AEAD): no shared cipher.
    ctx = tls_ctx(ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2, 'ECDHE-RSA-AES128-SHA')
    try:
        h.Conn(srv.port, tls_context=ctx).close()
        t.fail('CBC-only handshake succeeded')
    except ssl.SSLError as e:
        t.eq(e.reason, 'SSLV3_ALERT_HANDSHAKE_FAILURE')
    t.eq(h.request(srv.port, 'GET', '/healthz', tls_context=tls_ctx()).status, 200)


@h.test
def request_knows_it_came_over_tls(t):
    cert, key = h.self_signed_cert()
    srv = h.start_echo('--tls-cert', cert, '--tls-key', key)
    r = h.request(srv.port, 'POST', '/echo', body=b'secret', tls_context=tls_ctx())
    t.eq((r.status, r.body, r.header('x-tls')), (200, b'secret', 'yes'))
    import json
    info = json.loads(h.request(srv.port, 'GET', '/info', tls_context=tls_ctx()).body)
    t.eq(info['tls'], True)
    plain = h.start_echo()
    t.eq(h.request(plain.port, 'POST', '/echo', body=b'x').header('x-tls'), 'no')


@h.test
def bodies_pipelining_and_large_answers_over_tls(t):
    cert, key = h.self_signed_cert(key='ec')
    srv = h.start_echo('--tls-cert', cert, '--tls-key', key)
    with h.Conn(srv.port, timeout=10, tls_context=tls_ctx()) as c:
        c.send(h.build_request('POST', '/echo', body=b'a' * 100000) +
               h.build_request('GET', '/big?n=%d' % (4 * 1024 * 1024)) +
               h.build_request('GET', '/slow?ms=50') +
               b'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n'
               b'3\r\nabc\r\n0\r\n\r\n')
        r = c.read_response()
        t.eq((r.status, len(r.body)), (200, 100000))
        r = c.read_response()
        t.eq((r.status, len(r.body)), (200, 4 * 1024 * 1024))
        t.eq(c.read_response().body, b'slow done\n')
        t.eq(c.read_response().body, b'abc')


@h.test
def failed_handshakes_close_quietly(t):
    srv, plain = postern_tls(t, timeouts={'header': '2s'})
    # Plain HTTP to the TLS port: the handshake fails, the connection is closed.
    with h.Conn(srv.port, timeout=5) as c:
        c.send(b'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n')
        data = c.read_until_close()
        t.ok(b'HTTP/1.1' not in data, 'a plain HTTP answer on the TLS port: %r' % data[:40])
    # Garbage, then a connection that never says hello: cut at the header deadline.
    with h.Conn(srv.port, timeout=5) as c:
        c.send(b'\x16\x03\x01\x00\x05hello')
        c.read_until_close()
    start = time.monotonic()
    with h.Conn(srv.port, timeout=6) as c:
        c.read_until_close()
    elapsed = time.monotonic() - start
    t.ge(elapsed, 1.5)
    t.le(elapsed, 4.0)
    # A TLS client that closes mid-request.
    c = h.Conn(srv.port, tls_context=tls_ctx())
    c.send(b'GET /healthz HTTP/1.1\r\nHo')
    c.close()
    t.eq(h.request(srv.port, 'GET', '/healthz', tls_context=tls_ctx()).status, 200)
    t.eq(h.request(plain, 'GET', '/healthz').status, 200)
    t.ok(srv.alive(), 'server died')


@h.test
def bad_certificate_files_are_reported(t):
    cert, key = h.self_signed_cert()
    other_cert, other_key = h.self_signed_cert()
    port = h.free_port()
    cfg = h.postern_config(port)
    cfg['server']['listen'] = [{'address': '127.0.0.1:%d' % port,
                                'tls': {'cert': cert, 'key': other_key}}]
    srv = h.start_postern(cfg, ready=False)
    rc = srv.wait(15)
    t.ne(rc, 0, 'exit status with a key that does not match')
    t.ne(rc, None, 'still running with a mismatched key')
    t.ok('mismatch' in srv.log() or 'does not match' in srv.log(), 'no reason in the log')
    cfg['server']['listen'][0]['tls'] = {'cert': cert + '.missing', 'key': key}
    srv = h.start_postern(cfg, ready=False)
    rc = srv.wait(15)
    t.ne(rc, 0)
    t.contains(srv.log(), 'cert.pem.missing')


if __name__ == '__main__':
    h.main()
