"""flows.py: what the end-to-end tests do as a browser, an origin or an OIDC client, once.

The e2e tests (tests/e2e/test_*.py) and bench/gate/login.py use it: the forms of a page, the
scripted login (redirects followed across *.localhost host names, the IdP's login form filled
in on the way), *.localhost as the loopback address, a small origin behind the gateway, the
check an origin makes of Cf-Access-Jwt-Assertion, and the OIDC code-flow requests of the
walkthrough's Cloudflare client. Standard library, requests and jwcrypto only; it does not
import harness.py, so that a benchmark can use it without the test runner: a function that
can fail takes `t`, anything with a fail(msg) method that raises or exits (a test's
harness.TestCase).
"""

import html.parser
import json
import os
import sqlite3
import threading
import urllib.parse as up
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
import urllib3.util.connection as u3conn
from jwcrypto import jwk, jwt

LOGIN_PATH = '/if/flow/default-authentication-flow/'
REDIRECTS = (301, 302, 303, 307, 308)
MAX_HOPS = 20  # redirects and form posts of one browse()
TIMEOUT_S = 10  # seconds per request of a browse()
CERTS_TIMEOUT_S = 5  # seconds for an origin's fetch of /cdn-cgi/access/certs
DEFAULT_KEY = 'postern Self-signed Certificate'  # the signing key postern makes at first start

# The walkthrough's Cloudflare client at the IdP, and RFC 7636 Appendix B's PKCE pair.
CF_ID = 'cf-client'
CF_SECRET = 'cf-secret-0123456789'
CB = 'https://myteam.cloudflareaccess.com/cdn-cgi/access/callback'
VERIFIER = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'
CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'


# ---- HTML -------------------------------------------------------------------------------------

class Forms(html.parser.HTMLParser):
    """The forms of a page: forms = [{'action': ..., 'fields': {name: value}, 'buttons':
    [(name, value)]}] (named inputs and buttons; an action absent is ''), and inputs = the
    attributes of every <input>, in a form or not."""

    def __init__(self, text):
        super().__init__()
        self.forms = []
        self.inputs = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == 'form':
            self.forms.append({'action': a.get('action', ''), 'fields': {}, 'buttons': []})
        elif tag == 'input':
            self.inputs.append(a)
            if self.forms and a.get('name'):
                self.forms[-1]['fields'][a['name']] = a.get('value', '')
        elif tag == 'button' and self.forms and a.get('name'):
            self.forms[-1]['buttons'].append((a['name'], a.get('value', '')))


# ---- the browser ------------------------------------------------------------------------------

# (host, port) -> port: where a connection to that host name and port really goes (a test's
# load balancer picking a node); any other port is used as it is.
ROUTE = {}
_create_connection = u3conn.create_connection


def _create_localhost(address, *args, **kwargs):
    host, port = address
    if host == 'localhost' or host.endswith('.localhost'):
        port = ROUTE.get((host, port), port)
        host = '127.0.0.1'
    return _create_connection((host, port), *args, **kwargs)


def localhost_is_loopback():
    """Makes requests (urllib3) connect localhost and every *.localhost name to 127.0.0.1, as
    Chromium resolves them (RFC 6761 section 6.3; glibc does not), on the port ROUTE names
    for the pair if any. Called once by each user of *.localhost URLs; calling it again
    changes nothing."""
    u3conn.create_connection = _create_localhost


def login_form_filler(t, user, password):
    """A fill for browse(): postern's login form (at LOGIN_PATH), its first form posted with
    its own fields (csrf_token, next) and user and password, once; the login page is the end
    when user or password is None, and when it comes again after the post."""
    todo = bool(user and password)

    def fill(url, r):
        nonlocal todo
        if not todo or LOGIN_PATH not in url:
            return None
        forms = Forms(r.text).forms
        if not forms:
            t.fail('no form on the login page %s' % url)
        todo = False
        return forms[0]['action'], dict(forms[0]['fields'], username=user, password=password)

    return fill


def browse(t, sess, url, user=None, password=None, log=None, fill=None, limit=MAX_HOPS,
           timeout=TIMEOUT_S):
    """Follows redirects like a browser, across host names (sess keeps the cookies of each),
    and posts the forms fill(url, response) returns, asked on every 200 answer: (action,
    data), or None for the end. The default fill is login_form_filler(t, user, password).
    Returns the last response; log gets every URL visited ('POST ' + URL for a form)."""
    log = log if log is not None else []
    fill = fill or login_form_filler(t, user, password)
    r = sess.get(url, allow_redirects=False, timeout=timeout)
    log.append(url)
    for _ in range(limit):
        if r.status_code in REDIRECTS:
            url = up.urljoin(url, r.headers['Location'])
            r = sess.get(url, allow_redirects=False, timeout=timeout)
            log.append(url)
            continue
        form = fill(url, r) if r.status_code == 200 else None
        if form is None:
            return r
        url = up.urljoin(url, form[0])
        r = sess.post(url, data=form[1], allow_redirects=False, timeout=timeout)
        log.append('POST ' + url)
    t.fail('too many redirects: %r' % log[-5:])


def cookies(sess, name, host):
    """The values of the cookies name that sess holds for host (a domain that starts with it)."""
    return [c.value for c in sess.cookies if c.name == name and c.domain.startswith(host)]


def app_cookie(sess, host):
    """The (first) CF_Authorization cookie sess holds for host, or None."""
    vals = cookies(sess, 'CF_Authorization', host)
    return vals[0] if vals else None


# ---- the gateway's tokens, as an origin sees them -------------------------------------------

class Origin:
    """An origin on 127.0.0.1 (a free port) behind the gateway: answers each request of methods
    with 200 and the JSON document describe(handler) makes of it (the path by default), kept
    in seen. stop() ends it."""

    def __init__(self, describe=None, methods=('GET',)):
        self.seen = []
        origin = self
        describe = describe or (lambda req: {'path': req.path})

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, *a):
                pass

            def answer(self):
                doc = describe(self)
                origin.seen.append(doc)
                out = json.dumps(doc).encode()
                self.send_response(200)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        for m in methods:
            setattr(Handler, 'do_' + m, Handler.answer)
        self.httpd = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()


def header(doc, name):
    """The values of the headers name (case-insensitive) in an origin's JSON document."""
    return [v for k, v in doc['headers'] if k.lower() == name.lower()]


def app_token_claims(token, certs, team):
    """Cloudflare's "Validate JWTs" recipe for origins: the key of the token's kid among certs
    (the document of <team>/cdn-cgi/access/certs), the signature (RS256 or ES256), iss = team,
    exp. Returns the claims; raises jwcrypto's exception for a token that fails."""
    keys = jwk.JWKSet.from_json(json.dumps({'keys': certs['keys']}))
    checked = jwt.JWT(jwt=token, key=keys, algs=['RS256', 'ES256'],
                      check_claims={'iss': team, 'exp': None})
    return json.loads(checked.claims)


def check_app_token(team, token, aud):
    """What an origin concludes of Cf-Access-Jwt-Assertion (token; None when absent): {'valid':
    True, 'claims': ...} when app_token_claims accepts it with the certs the team domain serves
    now and aud (the application's AUD tag) is in its aud, else {'valid': False, 'why': ...}."""
    if token is None:
        return {'valid': False, 'why': 'no token'}
    try:
        certs = requests.get(team + '/cdn-cgi/access/certs', timeout=CERTS_TIMEOUT_S).json()
        claims = app_token_claims(token, certs, team)
        if aud is None or aud not in claims.get('aud', []):
            return {'valid': False, 'why': 'aud %r' % claims.get('aud')}
        return {'valid': True, 'claims': claims}
    except Exception as ex:  # noqa: BLE001 (the reason is the result)
        return {'valid': False, 'why': repr(ex)}


def gateway_key(data_dir):
    """The gateway's current private key and its kid, read from the SQLite store in data_dir
    (what an attacker who could sign would hold): for tokens with a valid signature and bad
    claims."""
    db = sqlite3.connect(os.path.join(data_dir, 'postern.db'))
    try:
        row = db.execute('SELECT k.kid, k.key_pem FROM access_keys a JOIN certificate_keypairs k '
                         'ON k.name = a.keypair_name WHERE a.retired_at = 0').fetchone()
    finally:
        db.close()
    return row[0], jwk.JWK.from_pem(row[1].encode())


def sign(key, kid, claims, alg='RS256'):
    """A JWT of claims signed with key, kid in its header."""
    tok = jwt.JWT(header={'alg': alg, 'kid': kid, 'typ': 'JWT'}, claims=claims)
    tok.make_signed_token(key)
    return tok.serialize()


# ---- the IdP's OIDC endpoints (idp: anything with url(path) on the IdP's origin) -------------

def provider(name, client_id, redirects, **extra):
    """An IdP provider object: confidential, implicit consent, secret client_id + '-secret-...'."""
    p = {'name': name, 'authorization_flow': 'default-provider-authorization-implicit-consent',
         'client_type': 'confidential', 'client_id': client_id,
         'client_secret': client_id + '-secret-0123456789',
         'redirect_uris': redirects, 'signing_key': DEFAULT_KEY}
    p.update(extra)
    return p


def strict(url):
    return {'matching_mode': 'strict', 'url': url}


def auth_params(**over):
    """The walkthrough client's authorization request (code flow, PKCE S256); over changes a
    parameter, or removes it when None."""
    p = {'client_id': CF_ID, 'redirect_uri': CB, 'response_type': 'code',
         'scope': 'openid email profile offline_access', 'state': 'state-123',
         'nonce': 'nonce-456', 'code_challenge': CHALLENGE, 'code_challenge_method': 'S256'}
    for k, v in over.items():
        if v is None:
            p.pop(k, None)
        else:
            p[k] = v
    return p


def authorize(idp, sess, headers=None, **over):
    return sess.get(idp.url('/application/o/authorize/'), params=auth_params(**over),
                    headers=headers, allow_redirects=False)


def query_of(url):
    return dict(up.parse_qsl(up.urlsplit(url).query, keep_blank_values=True))


def token(idp, data, auth=(CF_ID, CF_SECRET), headers=None):
    """POST to the token endpoint with HTTP Basic client authentication: the client id and
    secret form-urlencoded first (RFC 6749 section 2.3.1); auth None: none."""
    if auth is not None:
        auth = (up.quote(auth[0], safe=''), up.quote(auth[1], safe=''))
    return requests.post(idp.url('/application/o/token/'), data=data, auth=auth,
                         headers=headers, allow_redirects=False)


def userinfo(idp, access_token, method='GET', via='header'):
    url = idp.url('/application/o/userinfo/')
    if via == 'header':
        return requests.request(method, url, headers={'Authorization': 'Bearer ' + access_token})
    return requests.post(url, data={'access_token': access_token})


def introspect(idp, tok, auth=(CF_ID, CF_SECRET)):
    """The introspection answer (RFC 7662) for tok, as a dict."""
    r = requests.post(idp.url('/application/o/introspect/'), data={'token': tok}, auth=auth)
    assert r.status_code == 200, r.text
    return r.json()
