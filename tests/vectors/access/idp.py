# An OpenID Connect identity provider double for tests/unit/access/test_rp_idp.c (the
# gateway's relying party). Run with Debian's /usr/bin/python3 (python3-jwcrypto):
#   idp.py http|https [CERT KEY]
# Listens on 127.0.0.1 with a kernel-chosen port, prints the port and a newline, then serves
# (BASE is scheme://Host of each request, so the issuer follows the name the client used):
#   /.well-known/openid-configuration        issuer BASE, endpoints /authorize /token /jwks
#   /alt/.well-known/openid-configuration    issuer BASE/alt/ (trailing slash, like Authentik)
#   /bad/.well-known/openid-configuration    issuer https://evil.example
#   /partial/.well-known/openid-configuration  issuer BASE/partial, no token_endpoint
#   /jwks         every public key: kid rs256 rs384 rs512 ps256 ps384 ps512 (one RSA key,
#                 one alg each), es256 es384 es512, eddsa
#   /jwks-empty   {"keys": []};  /jwks-oct: only an HMAC key;  /jwks-html: an HTML page
#   /jwks-late... the keys, plus kid "late" from the second request of that exact path on
#   /count?p=PATH how many requests PATH (with its query) received
#   /authorize    302 to /login when redirect_uri is REGISTERED, else a 400 error page
#   /token        POST; the code is base64url(JSON spec), see token() below
#   /token-html   404 HTML;  /token-401: 401 without a body
#   /last         the last token and authorization requests
#   /skew/PATH    PATH, with a Date header 5 minutes ahead
import base64
import hashlib
import hmac
import json
import ssl
import sys
import threading
import time
import urllib.parse
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from jwcrypto import jwk, jws

CLIENT_ID = 'rp-client'
CLIENT_SECRET = 's3cr3t p@ss/+&='  # needs form-encoding before Basic (RFC 6749 2.3.1)
REGISTERED = 'http://team.localhost/cdn-cgi/access/callback'

RSA = jwk.JWK.generate(kty='RSA', size=2048)
KEYS = {
    'rs256': (RSA, 'RS256'), 'rs384': (RSA, 'RS384'), 'rs512': (RSA, 'RS512'),
    'ps256': (RSA, 'PS256'), 'ps384': (RSA, 'PS384'), 'ps512': (RSA, 'PS512'),
    'es256': (jwk.JWK.generate(kty='EC', crv='P-256'), 'ES256'),
    'es384': (jwk.JWK.generate(kty='EC', crv='P-384'), 'ES384'),
    'es512': (jwk.JWK.generate(kty='EC', crv='P-521'), 'ES512'),
    'eddsa': (jwk.JWK.generate(kty='OKP', crv='Ed25519'), 'EdDSA'),
}
LATE = (jwk.JWK.generate(kty='EC', crv='P-256'), 'ES256')   # rotated in later
OTHER = (jwk.JWK.generate(kty='EC', crv='P-256'), 'ES256')  # published nowhere

LOCK = threading.Lock()
COUNTS = {}
LAST = {}


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b'=').decode()


def b64u_decode(s):
    return base64.urlsafe_b64decode(s + '=' * (-len(s) % 4))


def public(kid, key, alg):
    d = json.loads(key.export_public())
    d.update(kid=kid, alg=alg, use='sig')
    return d


def jwks(late=False):
    keys = [public(kid, k, alg) for kid, (k, alg) in KEYS.items()]
    if late:
        keys.append(public('late', *LATE))
    return {'keys': keys}


def sign(header, claims, spec):
    """A compact JWS. spec may ask for alg none or HS256 keyed with the RSA public key PEM
    (the algorithm-confusion attack), or for a key other than the one kid names."""
    payload = json.dumps(claims).encode()
    alg = header['alg']
    if alg == 'none':
        return b64u(json.dumps(header).encode()) + '.' + b64u(payload) + '.'
    if alg.startswith('HS'):
        secret = RSA.export_to_pem()  # the public key, PEM, as an HMAC secret
        signing_input = b64u(json.dumps(header).encode()) + '.' + b64u(payload)
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        return signing_input + '.' + b64u(mac)
    key = {'other': OTHER[0], 'late': LATE[0]}.get(spec.get('sign_with'))
    if key is None:
        key = LATE[0] if header.get('kid') == 'late' else KEYS.get(header.get('kid'), OTHER)[0]
    s = jws.JWS(payload)
    s.add_signature(key, alg=None, protected=json.dumps(header))
    return s.serialize(compact=True)


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    date_offset = 0

    def log_message(self, *args):
        pass

    def date_time_string(self, timestamp=None):
        return formatdate(time.time() + self.date_offset, usegmt=True)

    def base(self):
        scheme = 'https' if isinstance(self.server.socket, ssl.SSLSocket) else 'http'
        return '%s://%s' % (scheme, self.headers.get('Host'))

    def reply(self, code, body, ctype='application/json', extra=()):
        if not isinstance(body, bytes):
            body = json.dumps(body).encode()
        self.send_response(code)
        self.send_header('Content-Type', ctype)
        for name, value in extra:
            self.send_header(name, value)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def discovery(self, prefix):
        b = self.base()
        doc = {'issuer': b, 'authorization_endpoint': b + '/authorize',
               'token_endpoint': b + '/token', 'jwks_uri': b + '/jwks',
               'response_types_supported': ['code']}
        if prefix == '/alt':
            doc['issuer'] = b + '/alt/'
        elif prefix == '/bad':
            doc['issuer'] = 'https://evil.example'
        elif prefix == '/partial':
            doc['issuer'] = b + '/partial'
            del doc['token_endpoint']
        self.reply(200, doc)

    def authorize(self, query):
        q = urllib.parse.parse_qs(query)
        with LOCK:
            LAST['authorize'] = {k: v[0] for k, v in q.items()}
        if q.get('redirect_uri', [''])[0] != REGISTERED:
            page = (b'<html><head><title>Redirect URI Error</title></head><body>The request '
                    b'fails due to a missing, invalid, or mismatching redirection URI '
                    b'(redirect_uri).</body></html>')
            self.reply(400, page, 'text/html')
        else:
            self.reply(302, b'', 'text/html', extra=[('Location', '/login')])

    def client_ok(self):
        auth = self.headers.get('Authorization', '')
        if not auth.startswith('Basic '):
            return False
        user, _, pw = base64.b64decode(auth[6:]).decode().partition(':')
        return (urllib.parse.unquote_plus(user) == CLIENT_ID and
                urllib.parse.unquote_plus(pw) == CLIENT_SECRET)

    def token(self, body):
        """spec = JSON in the code: nonce; alg, kid (default: the kid of alg), sign_with;
        claims (overrides, null deletes); clock (seconds added to iat/exp: the IdP's clock);
        date_offset (added to the Date header); redirect_uri, challenge (checked like a real
        IdP); error {status, body} or raw {status, ctype, body}."""
        form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()}
        with LOCK:
            LAST['token'] = {'form': form, 'authorization': self.headers.get('Authorization'),
                             'content_type': self.headers.get('Content-Type')}
        if not self.client_ok():
            return self.reply(401, {'error': 'invalid_client',
                                    'error_description': 'client authentication failed'})
        try:
            spec = json.loads(b64u_decode(form.get('code', '')))
        except Exception:
            return self.reply(400, {'error': 'invalid_grant', 'error_description': 'unknown code'})
        self.date_offset = spec.get('date_offset', 0)
        if 'error' in spec:
            return self.reply(spec['error'].get('status', 400), spec['error']['body'])
        if 'raw' in spec:
            r = spec['raw']
            return self.reply(r['status'], r.get('body', '').encode(), r.get('ctype', 'text/html'))
        if form.get('redirect_uri') != spec.get('redirect_uri', REGISTERED):
            return self.reply(400, {'error': 'invalid_grant',
                                    'error_description': 'redirect_uri does not match'})
        if 'challenge' in spec:
            v = form.get('code_verifier', '')
            if b64u(hashlib.sha256(v.encode()).digest()) != spec['challenge']:
                return self.reply(400, {'error': 'invalid_grant',
                                        'error_description': 'PKCE verification failed'})
        now = int(time.time()) + spec.get('clock', 0)
        claims = {'iss': self.base(), 'sub': 'user-1', 'aud': CLIENT_ID, 'exp': now + 300,
                  'iat': now, 'nonce': spec.get('nonce'), 'email': 'alice@example.com',
                  'name': 'Alice', 'groups': ['admins', 'dev']}
        for k, v in spec.get('claims', {}).items():
            if v is None:
                claims.pop(k, None)
            else:
                claims[k] = v
        alg = spec.get('alg', 'RS256')
        header = {'alg': alg, 'typ': 'JWT'}
        kid = spec.get('kid', alg.lower())
        if kid:
            header['kid'] = kid
        answer = {'access_token': 'at-' + b64u(b'x' * 12), 'token_type': 'Bearer',
                  'expires_in': 300, 'id_token': sign(header, claims, spec)}
        if spec.get('no_id_token'):
            del answer['id_token']
        self.reply(200, answer)

    def serve(self):
        n = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(n) if n else b''
        self.date_offset = 0
        url = urllib.parse.urlsplit(self.path)
        p = url.path
        if p.startswith('/skew/'):  # the same, with a Date 5 minutes ahead
            self.date_offset = 300
            p = p[5:]
        with LOCK:
            COUNTS[self.path] = COUNTS.get(self.path, 0) + 1
            seen = COUNTS[self.path]
        if p.endswith('/.well-known/openid-configuration'):
            self.discovery(p[:-len('/.well-known/openid-configuration')])
        elif p == '/jwks':
            self.reply(200, jwks())
        elif p == '/jwks-empty':
            self.reply(200, {'keys': []})
        elif p == '/jwks-oct':
            self.reply(200, {'keys': [{'kty': 'oct', 'kid': 'h', 'k': b64u(b'k' * 32)}]})
        elif p == '/jwks-html':
            self.reply(200, b'<html>not a JWKS</html>', 'text/html')
        elif p.startswith('/jwks-late'):
            self.reply(200, jwks(late=seen >= 2))
        elif p == '/count':
            q = urllib.parse.parse_qs(url.query)
            with LOCK:
                self.reply(200, {'n': COUNTS.get(q['p'][0], 0)})
        elif p == '/authorize':
            self.authorize(url.query)
        elif p == '/token' and self.command == 'POST':
            self.token(body)
        elif p == '/token-html':
            self.reply(404, b'<html><title>Not Found</title></html>', 'text/html')
        elif p == '/token-401':
            self.reply(401, b'', 'text/plain', extra=[('WWW-Authenticate', 'Basic')])
        elif p == '/last':
            with LOCK:
                self.reply(200, LAST)
        else:
            self.reply(404, {})

    do_GET = serve
    do_POST = serve


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, address):
        pass  # clients that give up on purpose (TLS refusals)


srv = Server(('127.0.0.1', 0), Handler)
if sys.argv[1] == 'https':
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[2], sys.argv[3])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
sys.stdout.write('%d\n' % srv.server_address[1])
sys.stdout.flush()
srv.serve_forever()
