#!/usr/bin/python3
"""Writes tests/vectors/http/malformed/*.http: one raw request per file, the status a
server must answer in the name (NAME.STATUS.http). Run from anywhere; rewrites the folder.
Each request carries a valid Host so that exactly one rule is broken."""
import os

H = b"Host: localhost\r\n"
GET = b"GET /healthz HTTP/1.1\r\n"


def post_chunked(body):
    return b"GET /healthz HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n" + body


V = {
    # the one that must work
    "ok.200": GET + H + b"Connection: close\r\n\r\n",
    "ok-chunked.200": post_chunked(b"5\r\nhello\r\n0\r\n\r\n"),
    # framing conflicts (RFC 9112 section 6)
    "cl-and-te.400": b"GET /healthz HTTP/1.1\r\n" + H
    + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "te-and-cl.400": b"GET /healthz HTTP/1.1\r\n" + H
    + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
    "cl-differing.400": b"GET /healthz HTTP/1.1\r\n" + H
    + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    "cl-list-differing.400": b"GET /healthz HTTP/1.1\r\n" + H
    + b"Content-Length: 5, 6\r\n\r\nhello!",
    "cl-plus.400": b"GET /healthz HTTP/1.1\r\n" + H + b"Content-Length: +5\r\n\r\nhello",
    "cl-negative.400": b"GET /healthz HTTP/1.1\r\n" + H + b"Content-Length: -1\r\n\r\n",
    "cl-hex.400": b"GET /healthz HTTP/1.1\r\n" + H + b"Content-Length: 0x5\r\n\r\nhello",
    "cl-empty.400": b"GET /healthz HTTP/1.1\r\n" + H + b"Content-Length: \r\n\r\n",
    "cl-overflow.400": b"GET /healthz HTTP/1.1\r\n" + H
    + b"Content-Length: 18446744073709551616\r\n\r\n",
    "cl-too-large.413": b"GET /healthz HTTP/1.1\r\n" + H + b"Content-Length: 1000000000\r\n\r\n",
    "te-not-chunked-last.400": b"GET /healthz HTTP/1.1\r\n" + H
    + b"Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
    "te-gzip-only.400": b"GET /healthz HTTP/1.1\r\n" + H
    + b"Transfer-Encoding: gzip\r\n\r\n0\r\n\r\n",
    "te-chunked-twice.400": b"GET /healthz HTTP/1.1\r\n" + H
    + b"Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
    "te-chunked-two-lines.400": b"GET /healthz HTTP/1.1\r\n" + H
    + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "te-empty.400": b"GET /healthz HTTP/1.1\r\n" + H + b"Transfer-Encoding: \r\n\r\n0\r\n\r\n",
    "te-http10.400": b"GET /healthz HTTP/1.0\r\n" + H
    + b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "te-unknown-coding.501": b"GET /healthz HTTP/1.1\r\n" + H
    + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    # line structure (RFC 9112 sections 2.2, 5)
    "obs-fold.400": GET + H + b"X-A: one\r\n two\r\n\r\n",
    "space-before-first-header.400": GET + b" " + H + b"\r\n",
    "bare-cr.400": GET + H + b"X-A: a\rb\r\n\r\n",
    "bare-cr-request-line.400": b"GET /healthz HTTP/1.1\rX\r\n" + H + b"\r\n",
    "bare-lf.400": b"GET /healthz HTTP/1.1\nHost: localhost\n\n",
    "bare-lf-header.400": GET + b"Host: localhost\n\r\n",
    "bare-lf-end.400": GET + H + b"\n",
    "nul-in-name.400": GET + H + b"X-\x00A: a\r\n\r\n",
    "nul-in-value.400": GET + H + b"X-A: a\x00b\r\n\r\n",
    "ctl-in-value.400": GET + H + b"X-A: a\x01b\r\n\r\n",
    "del-in-value.400": GET + H + b"X-A: a\x7fb\r\n\r\n",
    "esc-in-value.400": GET + H + b"X-A: a\x1b[31mb\r\n\r\n",
    "space-before-colon.400": GET + H + b"X-A : a\r\n\r\n",
    "tab-before-colon.400": GET + H + b"X-A\t: a\r\n\r\n",
    "empty-name.400": GET + H + b": a\r\n\r\n",
    "invalid-name.400": GET + H + b"X(A): a\r\n\r\n",
    "no-colon.400": GET + H + b"X-A a\r\n\r\n",
    # request line (RFC 9112 section 3)
    "invalid-method.400": b"G(ET /healthz HTTP/1.1\r\n" + H + b"\r\n",
    "method-empty.400": b" /healthz HTTP/1.1\r\n" + H + b"\r\n",
    "double-space.400": b"GET  /healthz HTTP/1.1\r\n" + H + b"\r\n",
    "tab-separator.400": b"GET\t/healthz HTTP/1.1\r\n" + H + b"\r\n",
    "invalid-version.400": b"GET /healthz HTTP/1.x\r\n" + H + b"\r\n",
    "version-lowercase.400": b"GET /healthz http/1.1\r\n" + H + b"\r\n",
    "version-trailing-space.400": b"GET /healthz HTTP/1.1 \r\n" + H + b"\r\n",
    "version-two-digits.400": b"GET /healthz HTTP/1.10\r\n" + H + b"\r\n",
    "http09.400": b"GET /healthz\r\n\r\n",
    "version-2.505": b"GET /healthz HTTP/2.0\r\n" + H + b"\r\n",
    "version-1-2.505": b"GET /healthz HTTP/1.2\r\n" + H + b"\r\n",
    "target-space.400": b"GET /health z HTTP/1.1\r\n" + H + b"\r\n",
    "target-ctl.400": b"GET /healthz\x01 HTTP/1.1\r\n" + H + b"\r\n",
    "target-utf8.400": b"GET /h\xc3\xa9 HTTP/1.1\r\n" + H + b"\r\n",
    "missing-host.400": GET + b"\r\n",
    "two-hosts.400": GET + H + b"Host: evil.example\r\n\r\n",
    "host-invalid.400": GET + b"Host: evil.example/x\r\n\r\n",
    "host-userinfo.400": GET + b"Host: user@evil.example\r\n\r\n",
    # path canonicalisation (the server answers 400 when http_path_canonical refuses)
    "path-dotdot-above-root.400": b"GET /../healthz HTTP/1.1\r\n" + H + b"\r\n",
    "path-encoded-slash.400": b"GET /a%2Fb HTTP/1.1\r\n" + H + b"\r\n",
    "path-backslash.400": b"GET /a\\b HTTP/1.1\r\n" + H + b"\r\n",
    "path-encoded-nul.400": b"GET /healthz%00 HTTP/1.1\r\n" + H + b"\r\n",
    "path-bad-escape.400": b"GET /healthz%zz HTTP/1.1\r\n" + H + b"\r\n",
    "path-absolute-form.400": b"GET http://localhost/healthz HTTP/1.1\r\n" + H + b"\r\n",
    # chunked bodies (RFC 9112 section 7.1)
    "chunk-size-bad.400": post_chunked(b"zz\r\nhello\r\n0\r\n\r\n"),
    "chunk-size-empty.400": post_chunked(b"\r\nhello\r\n0\r\n\r\n"),
    "chunk-size-space.400": post_chunked(b"5 \r\nhello\r\n0\r\n\r\n"),
    "chunk-size-leading-space.400": post_chunked(b" 5\r\nhello\r\n0\r\n\r\n"),
    "chunk-size-0x.400": post_chunked(b"0x5\r\nhello\r\n0\r\n\r\n"),
    "chunk-size-negative.400": post_chunked(b"-5\r\nhello\r\n0\r\n\r\n"),
    "chunk-size-overflow.400": post_chunked(b"10000000000000005\r\nhello\r\n0\r\n\r\n"),
    "chunk-size-bare-lf.400": post_chunked(b"5\nhello\r\n0\r\n\r\n"),
    "chunk-data-too-long.400": post_chunked(b"5\r\nhello!\r\n0\r\n\r\n"),
    "chunk-data-bare-lf.400": post_chunked(b"5\r\nhello\n0\r\n\r\n"),
    "chunk-too-large.413": post_chunked(b"1000000\r\n"),
    # limits
    "request-line-too-long.414": b"GET /" + b"a" * (8192 - len(b"GET / HTTP/1.1") + 1)
    + b" HTTP/1.1\r\n" + H + b"\r\n",
    "too-many-headers.431": GET + H + b"".join(b"X-%d: a\r\n" % i for i in range(100)) + b"\r\n",
    "headers-too-large.431": GET + H + b"X-A: " + b"a" * 40000 + b"\r\nX-B: " + b"b" * 40000
    + b"\r\n\r\n",
    # extension methods are tokens: the server answers 501
    "method-unknown.501": b"FOO /healthz HTTP/1.1\r\n" + H + b"\r\n",
}

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "malformed")
for f in os.listdir(here):
    if f.endswith(".http"):
        os.unlink(os.path.join(here, f))
for name, raw in V.items():
    with open(os.path.join(here, name + ".http"), "wb") as fh:
        fh.write(raw)
print(len(V), "files in", here)
