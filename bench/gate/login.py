"""bench/gate/login.py: one scripted login through the real flow, for bench/gate/run.

    login.py gate PORT      logs alice in at http://service.localhost:PORT/ (gateway -> team
                            domain -> postern's IdP login form -> callback -> authorized) and
                            prints the app's CF_Authorization cookie
    login.py apache APORT IDP_PORT
                            logs alice in at Apache + mod_auth_openidc (http://localhost:APORT/
                            -> postern's IdP login form -> Apache's redirect URI) and prints the
                            mod_auth_openidc_session cookie
    login.py check-gate PORT COOKIE
    login.py check-apache APORT COOKIE
                            GET /whoami with the cookie: the origin echoes what the proxy passed
                            on; checks that it is alice's identity (for the gateway: a
                            Cf-Access-Jwt-Assertion verified against /cdn-cgi/access/certs, as
                            Cloudflare tells origins to), and that the same request without the
                            cookie is sent to a login, not to the origin.

Every hop is followed like a browser (cookies per host name); *.localhost names are the loopback
address, as Chromium resolves them (glibc does not). Exits non-zero with the reason on failure.
"""

import html.parser
import json
import sys
import urllib.parse

import requests
import urllib3.util.connection as u3conn
from jwcrypto import jwk, jwt

USER = 'alice'
PASSWORD = 's3cret-pass'
EMAIL = 'alice@example.com'
LOGIN_PATH = '/if/flow/default-authentication-flow/'
MAX_HOPS = 20
TIMEOUT_S = 10

_create = u3conn.create_connection


def _create_localhost(address, *args, **kwargs):
    host, port = address
    if host == 'localhost' or host.endswith('.localhost'):
        host = '127.0.0.1'
    return _create((host, port), *args, **kwargs)


u3conn.create_connection = _create_localhost


class Forms(html.parser.HTMLParser):
    def __init__(self, text):
        super().__init__()
        self.forms = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == 'form':
            self.forms.append({'action': a.get('action', ''), 'fields': {}})
        elif tag == 'input' and self.forms and a.get('name'):
            self.forms[-1]['fields'][a['name']] = a.get('value', '')


def fail(msg):
    print('bench/gate: login: ' + msg, file=sys.stderr)
    sys.exit(1)


def browse(sess, url):
    """Follows redirects across host names, filling in the IdP's login form once. Returns the
    final response and the URLs visited."""
    log = [url]
    r = sess.get(url, allow_redirects=False, timeout=TIMEOUT_S)
    posted = False
    for _ in range(MAX_HOPS):
        if r.status_code in (301, 302, 303, 307, 308):
            url = urllib.parse.urljoin(url, r.headers['Location'])
            r = sess.get(url, allow_redirects=False, timeout=TIMEOUT_S)
            log.append(url)
        elif r.status_code == 200 and LOGIN_PATH in url and not posted:
            forms = Forms(r.text).forms
            if len(forms) != 1:
                fail('%d forms on the login page %s' % (len(forms), url))
            data = dict(forms[0]['fields'], username=USER, password=PASSWORD)
            url = urllib.parse.urljoin(url, forms[0]['action'])
            r = sess.post(url, data=data, allow_redirects=False, timeout=TIMEOUT_S)
            log.append('POST ' + url)
            posted = True
        else:
            if not posted:
                fail('never reached the login form: %r' % log)
            return r, log
    fail('too many redirects: %r' % log[-5:])


def cookie(sess, name, host):
    vals = [c.value for c in sess.cookies if c.name == name and c.domain.startswith(host)]
    if len(vals) != 1:
        fail('%d %s cookies for %s: %r' % (len(vals), name, host,
                                            [(c.domain, c.name) for c in sess.cookies]))
    return vals[0]


def login_gate(port):
    sess = requests.Session()
    r, log = browse(sess, 'http://service.localhost:%d/' % port)
    hosts = [urllib.parse.urlsplit(u.split(' ')[-1]).hostname for u in log]
    if r.status_code != 200 or 'team.localhost' not in hosts or 'auth.localhost' not in hosts:
        fail('gateway login ended with %d after %r' % (r.status_code, log))
    print(cookie(sess, 'CF_Authorization', 'service.localhost'))


def login_apache(aport, idp_port):
    sess = requests.Session()
    r, log = browse(sess, 'http://localhost:%d/' % aport)
    hosts = [urllib.parse.urlsplit(u.split(' ')[-1]).netloc for u in log]
    if r.status_code != 200 or 'auth.localhost:%d' % idp_port not in hosts:
        fail('Apache login ended with %d after %r: %s' % (r.status_code, log, r.text[:300]))
    print(cookie(sess, 'mod_auth_openidc_session', 'localhost'))


def whoami(url, host, cookie_hdr):
    """The origin's /whoami answer through a proxy, as a dict of its space-separated k=v."""
    r = requests.get(url + '/whoami', headers={'Host': host, 'Cookie': cookie_hdr},
                     allow_redirects=False, timeout=TIMEOUT_S)
    if r.status_code != 200:
        fail('GET %s/whoami (Host %s) with the cookie: %d %s' % (url, host, r.status_code,
                                                                r.text[:300]))
    return dict(kv.split('=', 1) for kv in r.text.split() if '=' in kv)


def no_cookie_is_redirected(url, host, where):
    r = requests.get(url + '/', headers={'Host': host}, allow_redirects=False,
                     timeout=TIMEOUT_S)
    loc = r.headers.get('Location', '')
    if r.status_code != 302 or where not in loc:
        fail('without the cookie %s answered %d (Location %r), not a redirect to %s' %
             (host, r.status_code, loc, where))


def check_gate(port, value):
    url = 'http://127.0.0.1:%d' % port
    host = 'service.localhost:%d' % port
    team = 'http://team.localhost:%d' % port
    seen = whoami(url, host, 'CF_Authorization=' + value)
    if seen.get('email') != EMAIL:
        fail('the origin got Cf-Access-Authenticated-User-Email %r' % seen.get('email'))
    certs = requests.get(team + '/cdn-cgi/access/certs', timeout=TIMEOUT_S).json()
    keys = jwk.JWKSet.from_json(json.dumps({'keys': certs['keys']}))
    t = jwt.JWT(jwt=seen.get('jwt', ''), key=keys, algs=['RS256', 'ES256'],
                check_claims={'iss': team, 'exp': None})
    claims = json.loads(t.claims)
    if claims.get('email') != EMAIL or claims.get('type') != 'app' or \
            not isinstance(claims.get('aud'), list) or len(claims['aud']) != 1:
        fail('Cf-Access-Jwt-Assertion claims %r' % claims)
    no_cookie_is_redirected(url, host, '/cdn-cgi/access/login/service.localhost')


def check_apache(aport, value):
    url = 'http://127.0.0.1:%d' % aport
    host = 'localhost:%d' % aport
    seen = whoami(url, host, 'mod_auth_openidc_session=' + value)
    if seen.get('oidc_email') != EMAIL:
        fail('the origin got OIDC_CLAIM_email %r' % seen.get('oidc_email'))
    no_cookie_is_redirected(url, host, '/application/o/authorize/')


def main(argv):
    if len(argv) >= 2 and argv[0] == 'gate':
        login_gate(int(argv[1]))
    elif len(argv) >= 3 and argv[0] == 'apache':
        login_apache(int(argv[1]), int(argv[2]))
    elif len(argv) >= 3 and argv[0] == 'check-gate':
        check_gate(int(argv[1]), argv[2])
    elif len(argv) >= 3 and argv[0] == 'check-apache':
        check_apache(int(argv[1]), argv[2])
    else:
        fail('usage: see the docstring of bench/gate/login.py')


if __name__ == '__main__':
    main(sys.argv[1:])
