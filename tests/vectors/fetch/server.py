# Test server for tests/unit/http/test_fetch.c: run with Debian's /usr/bin/python3.
#   server.py http|https [CERT KEY]
# Listens on 127.0.0.1 with a kernel-chosen port, prints the port and a newline, then serves:
#   /echo...     the request as JSON: method, path, body, headers (lower-case name -> values)
#   /500         status 500 with a JSON body
#   /big/N       N bytes with a Content-Length
#   /chunked/N   N bytes, chunked (no length known in advance)
#   /redirect    302 to /echo
#   /date        a fixed Date header: Sun, 06 Nov 1994 08:49:37 GMT
import json
import ssl
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FIXED_DATE = 'Sun, 06 Nov 1994 08:49:37 GMT'


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):
        pass

    def date_time_string(self, timestamp=None):
        if self.path.startswith('/date'):
            return FIXED_DATE
        return super().date_time_string(timestamp)

    def reply(self, code, body, ctype='application/json', chunked=False, extra=()):
        self.send_response(code)
        self.send_header('Content-Type', ctype)
        for name, value in extra:
            self.send_header(name, value)
        if chunked:
            self.send_header('Transfer-Encoding', 'chunked')
        else:
            self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        if not chunked:
            self.wfile.write(body)
            return
        for i in range(0, len(body), 700):
            chunk = body[i:i + 700]
            self.wfile.write(b'%x\r\n' % len(chunk) + chunk + b'\r\n')
        self.wfile.write(b'0\r\n\r\n')

    def serve(self):
        n = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(n) if n else b''
        p = self.path
        if p.startswith('/echo'):
            headers = {}
            for name, value in self.headers.items():
                headers.setdefault(name.lower(), []).append(value)
            d = {'method': self.command, 'path': p, 'body': body.decode('latin-1'),
                 'headers': headers}
            self.reply(200, json.dumps(d).encode())
        elif p == '/500':
            self.reply(500, b'{"error":"boom"}')
        elif p.startswith('/big/'):
            self.reply(200, b'x' * int(p[5:]), 'text/plain')
        elif p.startswith('/chunked/'):
            self.reply(200, b'y' * int(p[9:]), 'text/plain', chunked=True)
        elif p == '/redirect':
            self.reply(302, b'', 'text/plain', extra=[('Location', '/echo')])
        elif p == '/date':
            self.reply(200, b'{}')
        else:
            self.reply(404, b'{}')

    do_GET = serve
    do_POST = serve


class Server(ThreadingHTTPServer):
    request_queue_size = 256  # many concurrent connects in one test
    daemon_threads = True

    def handle_error(self, request, address):
        pass  # clients that abort on purpose (body limits, TLS refusals)


srv = Server(('127.0.0.1', 0), Handler)
if sys.argv[1] == 'https':
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[2], sys.argv[3])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
sys.stdout.write('%d\n' % srv.server_address[1])
sys.stdout.flush()
srv.serve_forever()
