"""`postern demo` end to end: it starts on a free port, prints the URL and the credentials once,
and the walkthrough works with a browser-like client (requests, cookies per host name): the
service sends the browser to the IdP's login form through the team domain, the origin page
shows the identity it verified, a second application needs no password, a third refuses the
user, logout ends the session. The demo's origin verifies Cf-Access-Jwt-Assertion itself:
tokens that are missing, forged, for another application, from another team or expired are
refused with 401. Ctrl-C (SIGINT) and SIGTERM stop everything and remove a temporary data
directory; --data-dir keeps it, and a restart makes a new password."""

import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import flows  # noqa: E402
import harness as h  # noqa: E402

import requests  # noqa: E402
from jwcrypto import jwk  # noqa: E402

flows.localhost_is_loopback()

BANNER = re.compile(r'Open http://service\.localhost:(\d+)/ and sign in as demo / (\S+)')
READY_TIMEOUT = 60  # seconds: two RSA keys and argon2id under the sanitizers
BROWSE_TIMEOUT_S = 20  # seconds per request of a login (argon2id under the sanitizers)


class Demo:
    """A running `postern demo --port 0`, with what its banner said."""

    def __init__(self, data_dir=None, args=()):
        argv = [h.postern_bin(), 'demo', '--port', '0'] + list(args)
        if data_dir:
            argv += ['--data-dir', data_dir]
        self.srv = h.Server('postern demo', argv, None)
        deadline = time.monotonic() + READY_TIMEOUT
        while 'Press Ctrl-C to stop.' not in self.srv.log():
            if not self.srv.alive() or time.monotonic() > deadline:
                raise h.TestFailure('the demo did not start:\n' + '\n'.join(self.srv.log_tail()))
            time.sleep(0.05)
        log = self.srv.log()
        m = BANNER.search(log)
        if not m:
            raise h.TestFailure('no "Open ... and sign in as" line:\n' + log)
        self.port = int(m.group(1))
        self.password = m.group(2)
        self.origin_port = int(re.search(r'Origin +http://127\.0\.0\.1:(\d+)/', log).group(1))
        self.config = re.search(r'Configuration +(\S+)', log).group(1)
        self.data_dir = re.search(r'Data +(\S+)', log).group(1)
        self.team = 'http://team.localhost:%d' % self.port
        self.auth = 'http://auth.localhost:%d' % self.port

    def url(self, host, path='/'):
        return 'http://%s.localhost:%d%s' % (host, self.port, path)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Stops the demo with sig; returns its exit status. A sanitizer report of the demo
        or of its origin (a child process, same output) fails the test."""
        self.srv.signal(sig)
        rc = self.srv.wait(timeout)
        self.srv.stop()
        report = h.sanitizer_report(self.srv.log())
        if report:
            raise h.TestFailure('sanitizer report:\n' + '\n'.join(report))
        return rc

    def cli(self, *args):
        return subprocess.run([h.postern_bin()] + list(args) + ['--config', self.config],
                              capture_output=True, text=True, timeout=60)


def browse(t, sess, url, password=None, log=None):
    """flows.browse, logging in as demo with password (None: the login form is not filled in,
    the login page is the end)."""
    return flows.browse(t, sess, url, 'demo', password, log=log, timeout=BROWSE_TIMEOUT_S)


def signed_in(t, d, app='service'):
    sess = requests.Session()
    log = []
    r = browse(t, sess, d.url(app), password=d.password, log=log)
    t.eq(r.status_code, 200, 'origin page after login: %s' % r.text[:300])
    return sess, r, log


def origin_get(d, host, token=None, headers=None):
    hs = dict(headers or {})
    if token is not None:
        hs['Cf-Access-Jwt-Assertion'] = token
    hs['Host'] = '%s:%d' % (host, d.port)
    return requests.get('http://127.0.0.1:%d/' % d.origin_port, headers=hs, timeout=20)


def auds(t, d):
    out = d.cli('access', 'apps')
    t.eq(out.returncode, 0, out.stderr)
    found = {}
    for line in out.stdout.splitlines():
        for word in line.split():
            if re.fullmatch(r'[0-9a-f]{64}', word):
                found[line.split()[0]] = word
    return found


# ---- tests ---------------------------------------------------------------------------------

@h.test
def the_demo_prints_the_url_and_the_credentials_once(t):
    d = Demo()
    t.defer(d.stop)
    t.ok(len(d.password) >= 12, 'password %r too short' % d.password)
    t.eq(d.srv.log().count(d.password), 1, 'the password must be printed exactly once')
    t.ok(d.data_dir.startswith(('/tmp/', os.environ.get('TMPDIR', '/tmp'))), d.data_dir)
    t.eq(stat.S_IMODE(os.stat(d.data_dir).st_mode), 0o700)
    t.eq(stat.S_IMODE(os.stat(d.config).st_mode), 0o600)
    with open(d.config) as f:
        cfg = f.read()
    t.ok(d.password not in cfg, 'the password is in the config file')
    log = d.srv.log()
    for want in (d.auth + '/', d.team + '/', d.url('second'), d.url('private'),
                 '(removed at exit)', d.team + '/cdn-cgi/access/test/Authentik'):
        t.contains(log, want)
    r = requests.get(d.url('service', '/healthz').replace('service', 'auth'), timeout=10)
    t.eq(r.status_code, 200)


@h.test
def the_objects_are_the_walkthroughs(t):
    d = Demo()
    t.defer(d.stop)
    with open(d.config) as f:
        cfg = f.read()
    for want in ('authorization_flow: default-provider-authorization-implicit-consent',
                 'client_type: confidential', 'matching_mode: strict',
                 'signing_key: postern Self-signed Certificate',
                 'slug: cloudflare, provider: Cloudflare, policy_engine_mode: any',
                 '- name: Authentik', 'claims: [groups]', 'session_duration: 24h',
                 'instant_auth: true', 'everyone: true'):
        t.contains(cfg, want)
    out = d.cli('provider', 'show', 'Cloudflare')
    t.eq(out.returncode, 0, out.stderr)
    t.contains(out.stdout, d.team + '/cdn-cgi/access/callback')
    t.contains(out.stdout, d.auth + '/application/o/cloudflare/jwks/')
    out = d.cli('access', 'idps')
    t.eq(out.returncode, 0, out.stderr)
    for path in ('/application/o/authorize/', '/application/o/token/',
                 '/application/o/cloudflare/jwks/'):
        t.contains(out.stdout, d.auth + path)
    a = auds(t, d)
    t.eq(sorted(a), ['myapp', 'private', 'second'])
    out = d.cli('access', 'test-idp', 'Authentik')
    t.eq(out.returncode, 0, 'test-idp: %s %s' % (out.stdout, out.stderr))


@h.test
def the_walkthrough_login_reaches_the_origin_page(t):
    d = Demo()
    t.defer(d.stop)
    sess = requests.Session()
    r = sess.get(d.url('service'), allow_redirects=False, timeout=10)
    t.eq(r.status_code, 302)
    t.contains(r.headers['Location'], d.team + '/cdn-cgi/access/login/service.localhost')
    # The login form, with its autocomplete attributes.
    r = browse(t, sess, d.url('service'))
    t.eq(r.status_code, 200)
    t.contains(r.url, d.auth + '/if/flow/default-authentication-flow/')
    inputs = {i.get('name'): i for i in flows.Forms(r.text).inputs}
    t.eq(inputs['username'].get('autocomplete'), 'username')
    t.eq(inputs['password'].get('autocomplete'), 'current-password')
    # A wrong password: the error, and the form again.
    f = flows.Forms(r.text).forms[0]
    bad = sess.post(urllib.parse.urljoin(r.url, f['action']),
                    data=dict(f['fields'], username='demo', password='not-' + d.password),
                    allow_redirects=False, timeout=20)
    t.ne(bad.status_code, 302, 'a wrong password was accepted')
    t.contains(bad.text, 'role="alert"')
    t.contains(bad.text, 'name="password"')
    # The right one: the origin page with the verified identity.
    sess, r, log = signed_in(t, d)
    hosts = [urllib.parse.urlsplit(u.split(' ')[-1]).hostname for u in log]
    t.ok('team.localhost' in hosts and 'auth.localhost' in hosts, 'path %r' % hosts)
    t.contains(r.text, '<h1>Hello, Demo User</h1>')
    t.contains(r.text, 'demo@example.com')
    t.contains(r.text, 'staff')
    t.contains(r.text, 'Cf-Access-Jwt-Assertion: verified')
    t.contains(r.text, auds(t, d)['myapp'])
    t.contains(r.headers.get('Content-Security-Policy', ''), "default-src 'none'")
    # The page's stylesheets come through the gateway too.
    for css in ('/static/postern.css', '/demo.css'):
        c = sess.get(d.url('service', css), allow_redirects=False, timeout=10)
        t.eq(c.status_code, 200, css)
        t.contains(c.headers['Content-Type'], 'text/css')
    # A reload needs no login.
    again = []
    r = browse(t, sess, d.url('service'), log=again)
    t.eq(r.status_code, 200)
    t.eq(len(again), 1, 'reload redirected: %r' % again)


@h.test
def single_sign_on_access_denied_and_logout(t):
    d = Demo()
    t.defer(d.stop)
    sess, _, _ = signed_in(t, d)
    log = []
    r = browse(t, sess, d.url('second'), log=log)
    t.eq(r.status_code, 200, 'second: %s' % r.text[:300])
    t.ok(not any('/if/flow/default-authentication-flow/' in u for u in log),
         'asked for a password again: %r' % log)
    t.contains(r.text, 'demo@example.com')
    r = browse(t, sess, d.url('private'))
    t.eq(r.status_code, 403)
    t.contains(r.text, 'Access denied')
    t.contains(r.text, 'demo@example.com')
    r = browse(t, sess, d.url('service', '/cdn-cgi/access/logout'))
    t.eq(r.status_code, 200)
    t.contains(r.text.lower(), 'logged out')
    r = sess.get(d.url('second'), allow_redirects=False, timeout=10)
    t.eq(r.status_code, 302, 'still signed in to the second application')
    t.contains(r.headers['Location'], '/cdn-cgi/access/login/')


@h.test
def the_origin_verifies_the_token_itself(t):
    d = Demo()
    t.defer(d.stop)
    sess, _, _ = signed_in(t, d)
    browse(t, sess, d.url('second'))
    service_tok = flows.app_cookie(sess, 'service.localhost')
    second_tok = flows.app_cookie(sess, 'second.localhost')
    t.ok(service_tok and second_tok, 'no app cookies')
    r = origin_get(d, 'service.localhost', service_tok)
    t.eq(r.status_code, 200, 'the control request (the test must be able to fail)')
    t.contains(r.text, 'demo@example.com')
    # A client header that lies is shown as such, never taken for the identity.
    r = origin_get(d, 'service.localhost', service_tok,
                   {'Cf-Access-Authenticated-User-Email': 'admin@example.com'})
    t.eq(r.status_code, 200)
    t.contains(r.text, 'differs from the token')
    t.contains(r.text, '<dd id="email">demo@example.com</dd>')
    t.eq(origin_get(d, 'service.localhost').status_code, 401)
    t.eq(origin_get(d, 'service.localhost', 'garbage').status_code, 401)
    r = origin_get(d, 'service.localhost', second_tok)
    t.eq(r.status_code, 401, "another application's token")
    t.contains(r.text, 'aud')
    t.eq(origin_get(d, 'second.localhost', second_tok).status_code, 200)
    t.eq(origin_get(d, 'nowhere.localhost', service_tok).status_code, 404)
    # Tokens signed with the gateway's own key but with bad claims, and forged ones.
    kid, key = flows.gateway_key(d.data_dir)
    now = int(time.time())
    good = {'aud': [auds(t, d)['myapp']], 'email': 'mallory@example.com', 'iss': d.team,
            'type': 'app', 'sub': 'm', 'iat': now, 'nbf': now, 'exp': now + 600}
    t.eq(origin_get(d, 'service.localhost', flows.sign(key, kid, good)).status_code, 200,
         'the control token')
    other = jwk.JWK.generate(kty='RSA', size=2048)
    head, payload, _ = service_tok.split('.')
    for name, tok in (('expired', flows.sign(key, kid, dict(good, exp=now - 120))),
                      ('not yet valid', flows.sign(key, kid, dict(good, nbf=now + 600))),
                      ('another team',
                       flows.sign(key, kid, dict(good, iss='http://team.example.com'))),
                      ('no exp',
                       flows.sign(key, kid, {k: v for k, v in good.items() if k != 'exp'})),
                      ('another key, same kid', flows.sign(other, kid, good)),
                      ('an unknown kid', flows.sign(other, 'made-up-kid', good)),
                      ('alg none', 'eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.%s.' % payload),
                      ('a bad signature', '%s.%s.%s' % (head, payload, 'A' * 342))):
        r = origin_get(d, 'service.localhost', tok)
        t.eq(r.status_code, 401, name)


@h.test
def sigint_stops_everything_and_removes_the_temporary_directory(t):
    d = Demo()
    t.defer(d.srv.stop)
    signed_in(t, d)
    rc = d.stop(signal.SIGINT)
    t.eq(rc, 0, 'exit status after SIGINT')
    t.ok(not os.path.exists(d.data_dir), '%s is still there' % d.data_dir)
    t.contains(d.srv.log(), 'Stopped; %s removed.' % d.data_dir)
    for port in (d.port, d.origin_port):
        with socket.socket() as s:
            t.ne(s.connect_ex(('127.0.0.1', port)), 0, 'port %d still open' % port)


@h.test
def a_kept_data_dir_survives_and_a_restart_makes_a_new_password(t):
    keep = os.path.join(h.tmpdir(), 'demo-data')
    d = Demo(data_dir=keep)
    first = d.password
    aud = auds(t, d)['myapp']
    t.eq(d.stop(), 0)
    t.ok(os.path.exists(os.path.join(keep, 'postern.db')), 'the database is gone')
    t.ok('(removed at exit)' not in d.srv.log())
    d = Demo(data_dir=keep)
    t.defer(d.stop)
    t.ne(d.password, first)
    t.eq(auds(t, d)['myapp'], aud, 'the AUD tag changed')
    sess, r, _ = signed_in(t, d)
    t.contains(r.text, 'demo@example.com')
    # The first password is over.
    s2 = requests.Session()
    r = browse(t, s2, d.url('service'), password=first)
    t.eq(r.status_code, 200)
    t.contains(r.text, 'role="alert"', 'the old password was accepted')


@h.test
def a_data_dir_the_demo_did_not_make_is_refused(t):
    """--data-dir must never overwrite a real configuration nor add the demo's users and
    applications to a real database."""
    for name, text in (('postern.yaml', 'server:\n  data_dir: /var/lib/postern\n'),
                       ('postern.db', 'not the demo\'s')):
        d = os.path.join(h.tmpdir(), 'real')
        os.mkdir(d)
        with open(os.path.join(d, name), 'w') as f:
            f.write(text)
        out = subprocess.run([h.postern_bin(), 'demo', '--port', '0', '--data-dir', d],
                             capture_output=True, text=True, timeout=60)
        t.eq(out.returncode, 1, '%s: %s' % (name, out.stderr))
        t.contains(out.stderr, 'did not make')
        with open(os.path.join(d, name)) as f:
            t.eq(f.read(), text, name + ' was changed')
        t.eq(sorted(os.listdir(d)), [name])


@h.test
def help_usage_errors_and_a_port_in_use(t):
    out = subprocess.run([h.postern_bin(), 'demo', '--help'], capture_output=True, text=True)
    t.eq(out.returncode, 0)
    t.contains(out.stdout, '--data-dir DIR')
    t.contains(out.stdout, 'default 9000')
    out = subprocess.run([h.postern_bin(), 'help', 'demo'], capture_output=True, text=True)
    t.eq(out.returncode, 0)
    t.contains(out.stdout, 'Usage: postern demo')
    out = subprocess.run([h.postern_bin(), '--help'], capture_output=True, text=True)
    t.contains(out.stdout, 'demo [--port N]')
    for bad in (['--port', '70000'], ['--port', 'x'], ['extra'], ['--nope']):
        out = subprocess.run([h.postern_bin(), 'demo'] + bad, capture_output=True, text=True)
        t.eq(out.returncode, 2, 'demo %r' % bad)
        t.contains(out.stderr, 'Usage: postern demo')
    # A port someone listens on, even with SO_REUSEPORT as Postern does, is refused: two
    # demos must never share a port.
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        s.bind(('127.0.0.1', 0))
        s.listen(1)
        port = s.getsockname()[1]
        out = subprocess.run([h.postern_bin(), 'demo', '--port', str(port)],
                             capture_output=True, text=True, timeout=30)
    t.eq(out.returncode, 1, out.stderr)
    t.contains(out.stderr, 'Address already in use')
    t.contains(out.stderr, '--port 0')


if __name__ == '__main__':
    h.main()
