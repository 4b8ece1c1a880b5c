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

import os
import sys
import urllib.parse

import requests

# The e2e tests' browser (tests/e2e/flows.py): the same scripted login as theirs.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tests',
                                'e2e'))
import flows  # noqa: E402

USER = 'alice'
PASSWORD = 's3cret-pass'
EMAIL = 'alice@example.com'
TIMEOUT_S = 10

flows.localhost_is_loopback()


def fail(msg):
    print('bench/gate: login: ' + msg, file=sys.stderr)
    sys.exit(1)


class Exit:
    """Where flows reports a failure (a test's TestCase there): the exit, with the reason."""

    @staticmethod
    def fail(msg):
        fail(msg)


def browse(sess, url):
    """Follows redirects across host names, filling in the IdP's login form once. Returns the
    final response and the URLs visited."""
    log = []
    r = flows.browse(Exit, sess, url, USER, PASSWORD, log=log)
    if not any(u.startswith('POST ') for u in log):
        fail('never reached the login form: %r' % log)
    return r, log


def cookie(sess, name, host):
    vals = flows.cookies(sess, name, host)
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
    claims = flows.app_token_claims(seen.get('jwt', ''), certs, team)
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
