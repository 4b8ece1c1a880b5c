"""The access gateway end to end, with Postern as both IdP and gateway (the walkthrough's last
step): a browser-like client (requests, cookies per host name) opens a protected application,
is sent to the team domain and on to the IdP's login form, logs in, and reaches the origin,
which checks Cf-Access-Jwt-Assertion the way Cloudflare tells origins to (the key by kid from
/cdn-cgi/access/certs, the signature, aud = the application's AUD tag, iss = the team
domain). Then single sign-on to a second application, logout everywhere, the access-denied
page, API clients, service tokens, bypass rules, and the attacks of issue 4: spoofed
Cf-Access-* headers, state replay, another application's token, forged and expired tokens,
open redirects through redirect_url, path tricks against a bypass rule."""

import os
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import flows  # noqa: E402
import harness as h  # noqa: E402

import requests  # noqa: E402

PASSWORD = 's3cret-pass'

flows.localhost_is_loopback()


# ---- the origin: shows what it received, and checks the token like Cloudflare's docs -------

class Origin(flows.Origin):
    def __init__(self, team_url):
        self.team_url = team_url
        self.aud = None  # set once the gateway made the AUD tags
        super().__init__(self.describe, methods=('GET', 'POST'))

    def describe(self, req):
        n = int(req.headers.get('Content-Length') or 0)
        body = req.rfile.read(n) if n else b''
        return {'path': req.path, 'method': req.command,
                'headers': [[k, v] for k, v in req.headers.items()],
                'body': body.decode('latin-1'),
                'jwt': self.check(req.headers.get('Cf-Access-Jwt-Assertion'))}

    def check(self, token):
        """Cloudflare's recipe: keys from <team>/cdn-cgi/access/certs, verify the signature
        with the key of the token's kid, then aud and iss."""
        return flows.check_app_token(self.team_url, token, self.aud)


# ---- the installation --------------------------------------------------------------------------

class Setup:
    def __init__(self, extra_apps=()):
        cfg = h.postern_config()
        self.port = int(cfg['server']['listen'][0].rsplit(':', 1)[1])
        p = self.port
        self.auth = 'http://auth.localhost:%d' % p
        self.team = 'http://team.localhost:%d' % p
        self.origin = Origin(self.team)
        o = 'http://127.0.0.1:%d' % self.origin.port
        cfg['idp'] = {'public_url': self.auth}
        cfg['groups'] = [{'name': 'staff'}]
        cfg['users'] = [
            {'username': 'alice', 'name': 'Alice Example', 'email': 'alice@example.com',
             'password': PASSWORD, 'groups': ['staff']},
            {'username': 'bob', 'name': 'Bob', 'email': 'bob@example.com', 'password': PASSWORD},
        ]
        cfg['providers'] = [{
            'name': 'Cloudflare',
            'authorization_flow': 'default-provider-authorization-implicit-consent',
            'client_type': 'confidential', 'client_id': 'cf-client',
            'client_secret': 'cf-secret-0123456789',
            'redirect_uris': [{'matching_mode': 'strict',
                               'url': self.team + '/cdn-cgi/access/callback'}],
            'signing_key': 'postern Self-signed Certificate'}]
        cfg['applications'] = [{'name': 'Cloudflare', 'slug': 'cloudflare',
                                'provider': 'Cloudflare', 'policy_engine_mode': 'any'}]
        allow = [{'name': 'allow', 'action': 'allow', 'include': [{'everyone': True}]}]
        apps = [
            {'name': 'myapp', 'domain': 'service.localhost', 'origin': o,
             'session_duration': '24h', 'identity_providers': ['Authentik'],
             'instant_auth': True, 'policies': allow},
            {'name': 'second', 'domain': 'second.localhost', 'origin': o,
             'instant_auth': True, 'policies': allow},
            {'name': 'bobonly', 'domain': 'bob.localhost', 'origin': o, 'instant_auth': True,
             'policies': [{'name': 'bob', 'action': 'allow',
                           'include': [{'emails': ['bob@example.com']}]}]},
            {'name': 'public', 'domain': 'open.localhost', 'origin': o, 'instant_auth': True,
             'policies': [{'name': 'public', 'action': 'bypass',
                           'include': [{'everyone': True}]}]},
            {'name': 'open-path', 'domain': 'mixed.localhost/public', 'origin': o,
             'instant_auth': True,
             'policies': [{'name': 'public', 'action': 'bypass', 'include': [{'everyone': True}]}]},
            {'name': 'mixed', 'domain': 'mixed.localhost', 'origin': o, 'instant_auth': True,
             'policies': allow},
            {'name': 'machines', 'domain': 'api.localhost', 'origin': o, 'instant_auth': True,
             'policies': [{'name': 'robots', 'action': 'service_auth',
                           'include': [{'any_service_token': True}]}] + allow},
        ] + list(extra_apps)
        for a in apps:
            a.setdefault('identity_providers', ['Authentik'])
        cfg['access'] = {
            'team_domain': self.team,
            'identity_providers': [{
                'name': 'Authentik', 'type': 'oidc', 'client_id': 'cf-client',
                'client_secret': 'cf-secret-0123456789',
                'auth_url': self.auth + '/application/o/authorize/',
                'token_url': self.auth + '/application/o/token/',
                'certs_url': self.auth + '/application/o/cloudflare/jwks/',
                'claims': ['groups']},
                {'name': 'Wrong secret', 'type': 'oidc', 'client_id': 'cf-client',
                 'client_secret': 'not-the-secret',
                 'auth_url': self.auth + '/application/o/authorize/',
                 'token_url': self.auth + '/application/o/token/',
                 'certs_url': self.auth + '/application/o/cloudflare/jwks/'}],
            'applications': apps,
        }
        self.cfg = cfg
        self.srv = h.start_postern(cfg)
        self.config_path = h.write_config(cfg)  # the same data directory, for the CLI
        self.auds = self.apps_auds()
        self.origin.aud = self.auds['myapp']

    def apps_auds(self):
        out = subprocess.run([h.postern_bin(), 'access', 'apps', '--config', self.config_path],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        auds = {}
        for line in out.stdout.splitlines():
            for word in line.split():
                if len(word) == 64 and all(c in '0123456789abcdef' for c in word):
                    auds[line.split()[0]] = word
        return auds

    def url(self, host, path='/'):
        return 'http://%s.localhost:%d%s' % (host, self.port, path)

    def close(self):
        self.origin.stop()


def browse(t, sess, url, user='alice', password=PASSWORD, log=None):
    """flows.browse, logging in as user (None: the login form is not filled in, the login
    page is the end)."""
    return flows.browse(t, sess, url, user, password, log=log)


def signed_in(t, s, sess=None, app='service', user='alice'):
    sess = sess or requests.Session()
    log = []
    r = browse(t, sess, s.url(app), user=user, log=log)
    t.eq(r.status_code, 200, 'origin page after login: %s' % r.text[:300])
    return sess, r.json(), log


# ---- tests --------------------------------------------------------------------------------------

@h.test
def walkthrough_login_reaches_the_origin_with_a_valid_token(t):
    s = Setup()
    t.defer(s.close)
    sess, doc, log = signed_in(t, s)
    hosts = [urllib.parse.urlsplit(u.split(' ')[-1]).hostname for u in log]
    t.eq(hosts[0], 'service.localhost')
    t.ok('team.localhost' in hosts and 'auth.localhost' in hosts, 'path %r' % hosts)
    t.contains(' '.join(log), '/cdn-cgi/access/login/service.localhost')
    t.contains(' '.join(log), '/cdn-cgi/access/callback?')
    t.contains(' '.join(log), '/cdn-cgi/access/authorized?token=')
    t.eq(flows.header(doc, 'Cf-Access-Authenticated-User-Email'), ['alice@example.com'])
    t.ok(doc['jwt']['valid'], 'origin check: %r' % doc['jwt'])
    c = doc['jwt']['claims']
    t.eq(c['email'], 'alice@example.com')
    t.eq(c['type'], 'app')
    t.eq(c['aud'], [s.auds['myapp']])
    t.eq(c['iss'], s.team)
    t.eq(c.get('groups'), ['staff'])
    for k in ('exp', 'iat', 'nbf', 'identity_nonce', 'sub'):
        t.ok(k in c, 'claim %s missing' % k)
    t.ok(c['exp'] - c['iat'] <= 24 * 3600 + 5, 'app token outlives session_duration')
    # The login page named the application of the authorization request (the IdP's).
    page = requests.get([u for u in log if '/if/flow/default-authentication-flow/' in u
                         and not u.startswith('POST')][0]).text
    t.contains(page, 'Cloudflare')
    # The cookies: the app's on the app host, the global one on the team host, HttpOnly.
    names = {(ck.domain, ck.name) for ck in sess.cookies}
    t.ok(any(d.startswith('service.localhost') and n == 'CF_Authorization' for d, n in names),
         'no app cookie: %r' % names)
    t.ok(any(d.startswith('team.localhost') and n == 'CF_Authorization' for d, n in names),
         'no global cookie: %r' % names)
    # A reload needs no login.
    log2 = []
    r = browse(t, sess, s.url('service', '/again?x=1'), log=log2)
    t.eq(r.status_code, 200)
    t.eq(len(log2), 1, 'reload redirected: %r' % log2)
    t.eq(r.json()['path'], '/again?x=1')


@h.test
def single_sign_on_to_a_second_application(t):
    s = Setup()
    t.defer(s.close)
    sess, _, _ = signed_in(t, s)
    log = []
    r = browse(t, sess, s.url('second'), user=None, log=log)
    t.eq(r.status_code, 200, 'second app: %s' % r.text[:200])
    t.ok(not any('auth.localhost' in u for u in log), 'went to the IdP again: %r' % log)
    s.origin.aud = s.auds['second']
    t.ok(s.origin.check(r.json() and flows.header(r.json(), 'Cf-Access-Jwt-Assertion')[0])['valid'])


@h.test
def logout_ends_the_session_in_every_application(t):
    s = Setup()
    t.defer(s.close)
    sess, _, _ = signed_in(t, s)
    browse(t, sess, s.url('second'), user=None)
    stolen = sess.cookies.get('CF_Authorization', domain='second.localhost.local') or \
        flows.cookies(sess, 'CF_Authorization', 'second.localhost')[0]
    r = browse(t, sess, s.url('service', '/cdn-cgi/access/logout'), user=None)
    t.eq(r.status_code, 200)
    t.contains(r.text.lower(), 'logged out')
    # The same browser must log in again...
    r = sess.get(s.url('service'), allow_redirects=False)
    t.eq(r.status_code, 302)
    t.contains(r.headers['Location'], '/cdn-cgi/access/login/')
    # ...and a copy of the other application's cookie is refused too (revoked session).
    r = requests.get(s.url('second'), cookies={'CF_Authorization': stolen},
                     allow_redirects=False)
    t.eq(r.status_code, 302, 'revoked session still served')


@h.test
def a_user_the_policy_does_not_allow_sees_access_denied(t):
    s = Setup()
    t.defer(s.close)
    sess = requests.Session()
    r = browse(t, sess, s.url('bob'))
    t.eq(r.status_code, 403)
    t.contains(r.text, 'alice@example.com')
    t.eq(len(s.origin.seen), 0)
    # The page's stylesheet and logo come from the gateway, on the application's own host.
    import html
    import re
    for ref in re.findall(r'(?:href|src)="(/cdn-cgi/access/static/[^"]+)"', r.text):
        a = requests.get(s.url('bob', html.unescape(ref)))
        t.eq(a.status_code, 200, ref)
    t.ok(re.search(r'href="/cdn-cgi/access/static/postern\.css', r.text), 'no stylesheet link')
    t.eq(len(s.origin.seen), 0, 'an asset request reached the origin')
    _, doc, _ = signed_in(t, s, app='bob', user='bob')
    t.eq(flows.header(doc, 'Cf-Access-Authenticated-User-Email'), ['bob@example.com'])


@h.test
def spoofed_access_headers_never_reach_the_origin(t):
    s = Setup()
    t.defer(s.close)
    sess, _, _ = signed_in(t, s)
    r = sess.get(s.url('service'), headers={
        'Cf-Access-Authenticated-User-Email': 'admin@example.com',
        'CF-ACCESS-JWT-ASSERTION': 'forged',
        'Cf-Access-Client-Id-Extra': 'x',
        'Cf_Access_Authenticated_User_Email': 'admin@example.com'})
    doc = r.json()
    t.eq(flows.header(doc, 'Cf-Access-Authenticated-User-Email'), ['alice@example.com'])
    t.eq(len(flows.header(doc, 'Cf-Access-Jwt-Assertion')), 1)
    t.ne(flows.header(doc, 'Cf-Access-Jwt-Assertion')[0], 'forged')
    t.eq(flows.header(doc, 'Cf_Access_Authenticated_User_Email'), [])
    t.eq(flows.header(doc, 'Cf-Access-Client-Id-Extra'), [])
    # And on a bypassed application: no identity at all, and no client copy either.
    r = requests.get(s.url('open'), headers={'Cf-Access-Authenticated-User-Email': 'x@y'})
    t.eq(r.status_code, 200)
    t.eq(flows.header(r.json(), 'Cf-Access-Authenticated-User-Email'), [])
    t.eq(flows.header(r.json(), 'Cf-Access-Jwt-Assertion'), [])


@h.test
def api_clients_get_401_and_unknown_hosts_404(t):
    s = Setup()
    t.defer(s.close)
    r = requests.get(s.url('service', '/api'), headers={'X-Requested-With': 'XMLHttpRequest'},
                     allow_redirects=False)
    t.eq(r.status_code, 401)
    t.eq(r.headers['Content-Type'], 'application/json')
    r = requests.get(s.url('nowhere'), allow_redirects=False)
    t.eq(r.status_code, 404)


@h.test
def state_replay_and_another_browser_are_refused(t):
    s = Setup()
    t.defer(s.close)
    sess = requests.Session()
    log = []
    browse(t, sess, s.url('service'), log=log)
    cb = [u for u in log if '/cdn-cgi/access/callback?' in u][0]
    r = sess.get(cb, allow_redirects=False)
    t.eq(r.status_code, 400, 'replayed state accepted')
    # A fresh login, its callback opened in another browser (no state cookie).
    sess2 = requests.Session()
    r = sess2.get(s.url('service'), allow_redirects=False)
    url = r.headers['Location']
    r = sess2.get(url, allow_redirects=False)  # team login: sets the state cookie
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(r.headers['Location']).query)
    other = requests.get(s.team + '/cdn-cgi/access/callback',
                         params={'state': q['state'][0], 'code': 'whatever'},
                         allow_redirects=False)
    t.eq(other.status_code, 400)
    forged = requests.get(s.team + '/cdn-cgi/access/callback', params={
        'state': q['state'][0], 'code': 'x'}, cookies={'CF_Access_State': 'A' * 43},
        allow_redirects=False)
    t.eq(forged.status_code, 400)


@h.test
def tokens_of_another_application_forged_or_tampered_are_refused(t):
    s = Setup()
    t.defer(s.close)
    sess, doc, _ = signed_in(t, s)
    app_token = flows.header(doc, 'Cf-Access-Jwt-Assertion')[0]
    for bad in (app_token,  # myapp's token on another application
                app_token[:-4] + ('AAAA' if not app_token.endswith('AAAA') else 'BBBB'),
                'eyJhbGciOiJub25lIn0.eyJlbWFpbCI6ImFAYi5jIn0.',
                'garbage'):
        r = requests.get(s.url('second'), cookies={'CF_Authorization': bad},
                         allow_redirects=False)
        t.eq(r.status_code, 302, 'accepted: %r' % bad[:40])
    # The global session cookie is not an app token.
    org = flows.cookies(sess, 'CF_Authorization', 'team.localhost')[0]
    r = requests.get(s.url('service'), cookies={'CF_Authorization': org}, allow_redirects=False)
    t.eq(r.status_code, 302)


@h.test
def well_signed_tokens_with_bad_claims_are_refused(t):
    s = Setup()
    t.defer(s.close)
    kid, key = flows.gateway_key(s.cfg['server']['data_dir'])
    now = int(time.time())
    good = {'aud': [s.auds['myapp']], 'email': 'mallory@example.com', 'iss': s.team,
            'type': 'app', 'identity_nonce': 'f' * 64, 'sub': 'm', 'iat': now, 'nbf': now,
            'exp': now + 600}
    def get(claims):
        return requests.get(s.url('service'), allow_redirects=False,
                            cookies={'CF_Authorization': flows.sign(key, kid, claims)})
    r = get(good)
    t.eq(r.status_code, 200, 'the control token (the test must be able to fail)')
    t.eq(flows.header(r.json(), 'Cf-Access-Authenticated-User-Email'), ['mallory@example.com'])
    for name, bad in (('expired', dict(good, exp=now - 5)),
                      ('not yet valid', dict(good, nbf=now + 600)),
                      ('issued in the future', dict(good, iat=now + 600)),
                      ('another team', dict(good, iss='http://team.example.com')),
                      ('another app', dict(good, aud=[s.auds['second']])),
                      ('org type', dict(good, type='org')),
                      ('no identity_nonce', {k: v for k, v in good.items()
                                             if k != 'identity_nonce'}),
                      ('no exp', {k: v for k, v in good.items() if k != 'exp'})):
        r = get(bad)
        t.eq(r.status_code, 302, name)


@h.test
def redirect_url_never_leaves_the_application(t):
    s = Setup()
    t.defer(s.close)
    sess, _, _ = signed_in(t, s)
    payloads = [l.rstrip('\n') for l in open(h.vectors_dir('redirect', 'open-redirect.txt'))
                if l.strip() and not l.startswith('#')]
    t.ge(len(payloads), 200)
    for p in payloads:
        r = sess.get(s.team + '/cdn-cgi/access/login/service.localhost',
                     params={'redirect_url': p}, allow_redirects=False)
        if r.status_code != 302:
            continue
        loc = r.headers['Location']
        t.ok(loc.startswith(s.url('service', '/cdn-cgi/access/authorized?token=')),
             '%r -> %r' % (p, loc))
        r = sess.get(loc, allow_redirects=False)
        t.eq(r.status_code, 302)
        final = r.headers['Location']
        t.ok(final.startswith('/') and not final.startswith('//') and '\\' not in final,
             '%r -> %r' % (p, final))
        t.eq(urllib.parse.urlsplit(urllib.parse.urljoin(s.url('service'), final)).hostname,
             'service.localhost', '%r -> %r' % (p, final))


@h.test
def a_bypass_rule_cannot_be_reached_by_path_tricks(t):
    s = Setup()
    t.defer(s.close)
    r = requests.get(s.url('mixed', '/public/page'), allow_redirects=False)
    t.eq(r.status_code, 200, 'bypassed path')
    for trick in ('/public/../secret', '/public/%2e%2e/secret', '/public/.%2e/secret',
                  '//secret', '/secret;/public', '/secret#/public', '/secret?/public',
                  '/publicity', '/PUBLIC/x'):
        r = requests.get(s.url('mixed', trick), allow_redirects=False)
        t.ok(r.status_code in (302, 400, 404), '%s -> %d' % (trick, r.status_code))
        if r.status_code == 200:
            t.fail('%s reached the origin as %r' % (trick, r.json()['path']))


@h.test
def certs_and_get_identity(t):
    s = Setup()
    t.defer(s.close)
    r = requests.get(s.team + '/cdn-cgi/access/certs')
    t.eq(r.status_code, 200)
    d = r.json()
    t.ok(len(d['keys']) >= 1 and 'kid' in d['keys'][0])
    t.ok(d['public_cert']['kid'] == d['keys'][0]['kid'])
    t.contains(d['public_cert']['cert'], 'BEGIN CERTIFICATE')
    t.ok(len(d['public_certs']) >= 1)
    sess, _, _ = signed_in(t, s)
    r = sess.get(s.url('service', '/cdn-cgi/access/get-identity'))
    t.eq(r.status_code, 200)
    i = r.json()
    t.eq(i['email'], 'alice@example.com')
    t.eq(i['groups'], ['staff'])
    t.eq(i['idp']['id'], 'Authentik')
    t.ok(i['iat'] > 0 and i['ip'] == '127.0.0.1')
    r = requests.get(s.url('service', '/cdn-cgi/access/get-identity'))
    t.eq(r.status_code, 401)


@h.test
def service_tokens_get_in_without_a_login_and_never_a_redirect(t):
    s = Setup()
    t.defer(s.close)
    out = subprocess.run([h.postern_bin(), 'access', 'service-token', 'add', 'robot',
                          '--config', s.config_path], capture_output=True, text=True, timeout=30)
    t.eq(out.returncode, 0, out.stderr)
    cid = [l.split(':', 1)[1].strip() for l in out.stdout.splitlines()
           if l.startswith('CF-Access-Client-Id:')][0]
    sec = [l.split(':', 1)[1].strip() for l in out.stdout.splitlines()
           if l.startswith('CF-Access-Client-Secret:')][0]
    hdr = {'CF-Access-Client-Id': cid, 'CF-Access-Client-Secret': sec}
    for _ in range(2):  # the second from the gateway's cache
        r = requests.get(s.url('api', '/v1'), headers=hdr, allow_redirects=False)
        t.eq(r.status_code, 200, r.text[:200])
        doc = r.json()
        s.origin.aud = s.auds['machines']
        check = s.origin.check(flows.header(doc, 'Cf-Access-Jwt-Assertion')[0])
        t.ok(check['valid'], check)
        t.eq(check['claims']['common_name'], cid)
        t.eq(flows.header(doc, 'CF-Access-Client-Secret'), [])
    bad = dict(hdr, **{'CF-Access-Client-Secret': 'x' * 64})
    r = requests.get(s.url('api', '/v1'), headers=bad, allow_redirects=False)
    t.eq(r.status_code, 401)
    r = requests.get(s.url('service', '/'), headers=hdr, allow_redirects=False)
    t.eq(r.status_code, 403, 'an application without service_auth')


@h.test
def the_test_page_runs_a_real_login_or_names_the_problem(t):
    s = Setup()
    t.defer(s.close)
    sess = requests.Session()
    r = browse(t, sess, s.team + '/cdn-cgi/access/test/Authentik')
    t.eq(r.status_code, 200, r.text[:300])
    t.contains(r.text, 'Your connection works!')
    t.contains(r.text, 'alice@example.com')
    t.contains(r.text, 'staff')  # the groups claim received
    t.ok(not any(c.name == 'CF_Authorization' for c in sess.cookies), 'a test made a session')
    r = browse(t, sess, s.team + '/cdn-cgi/access/test/Wrong%20secret', user=None)
    t.eq(r.status_code, 502, r.text[:300])
    t.contains(r.text, 'invalid_client')
    r = requests.get(s.team + '/cdn-cgi/access/test/Nobody', allow_redirects=False)
    t.eq(r.status_code, 404)


if __name__ == '__main__':
    h.main()
