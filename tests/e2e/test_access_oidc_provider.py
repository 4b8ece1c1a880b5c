"""The access gateway in front of an OpenID provider that is not ours (issue 4, items 4 and 7):
npm's OpenID Certified `oidc-provider` (tests/e2e/oidc_provider.mjs, its development login:
a login form, then a consent form). Postern runs as the gateway only (no `idp:` section); its
identity providers point at oidc-provider's discovery document, or at its authorization,
token and JWKS URLs plus the issuer.

Scenarios: the full login through the gateway to an origin that checks
Cf-Access-Jwt-Assertion like Cloudflare's documentation tells origins to; single sign-on to a
second application; logout everywhere; the email and groups claims reaching the origin and
the policies; ID tokens signed ES256 and PS256 accepted, HS256 refused ("not signed with an
asymmetric key"); a wrong client secret and an unregistered redirect URI diagnosed by the
login, the Test page and `postern access test-idp`."""

import html
import json
import os
import shutil
import subprocess
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import flows  # noqa: E402
import harness as h  # noqa: E402

import requests  # noqa: E402
from jwcrypto import jwk  # noqa: E402
from jwcrypto.common import base64url_decode  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
# HS256 ID tokens are keyed with the client secret: at least 32 bytes (RFC 7518 section 3.2).
SECRET = 'gate-secret-0123456789-0123456789-abcdef'
GROUPS = {'alice': ['staff', 'users'], 'bob': ['users']}

flows.localhost_is_loopback()


# ---- oidc-provider ----------------------------------------------------------------------------

def op_keys():
    """oidc-provider's signing keys, private JWKs: an RSA key published with "alg": "RS256"
    (the default), an EC P-256 key with "ES256", and an RSA key published without "alg"
    (RFC 7517 section 4.4 makes it optional), which oidc-provider uses for PS256: the gateway
    must accept PS256 with it (the RSA family of a key without "alg"), never HMAC."""
    out = []
    for alg, k in (('RS256', jwk.JWK.generate(kty='RSA', size=2048)),
                   ('PS256', jwk.JWK.generate(kty='RSA', size=2048)),
                   ('ES256', jwk.JWK.generate(kty='EC', crv='P-256'))):
        d = json.loads(k.export_private())
        d.update(kid='op-' + alg.lower(), use='sig')
        if alg != 'PS256':
            d['alg'] = alg
        out.append(d)
    return {'keys': out}


class OP:
    """oidc-provider on idp.localhost:PORT with one client per entry of clients:
    (client_id, redirect_uri, id_token_signed_response_alg or None)."""

    def __init__(self, clients):
        node = shutil.which('node')
        if node is None:
            raise h.TestFailure('node is not installed (scripts/install-deps --test)')
        self.port = h.free_port()
        self.issuer = 'http://idp.localhost:%d' % self.port
        cfg = {'port': self.port, 'issuer': 'http://idp.localhost:PORT', 'groups': GROUPS,
               'jwks': op_keys(), 'clients': []}
        for cid, redirect, alg in clients:
            c = {'client_id': cid, 'client_secret': SECRET, 'redirect_uris': [redirect]}
            if alg:
                c['id_token_signed_response_alg'] = alg
            cfg['clients'].append(c)
        path = os.path.join(h.tmpdir(), 'op.json')
        with open(path, 'w') as f:
            json.dump(cfg, f)
        self.srv = h.Server('oidc-provider', [node, os.path.join(HERE, 'oidc_provider.mjs'),
                                              path], self.port)
        self.srv.wait_ready('/.well-known/openid-configuration')

    def idp(self, name, client_id, secret=SECRET, discovery=True, **extra):
        """The gateway's identity provider for one client of this OP."""
        d = {'name': name, 'type': 'oidc', 'client_id': client_id, 'client_secret': secret,
             'scopes': ['openid', 'email', 'profile', 'groups'], 'claims': ['groups']}
        if discovery:
            d['discovery_url'] = self.issuer + '/.well-known/openid-configuration'
        else:
            d.update(auth_url=self.issuer + '/auth', token_url=self.issuer + '/token',
                     certs_url=self.issuer + '/jwks', issuer=self.issuer)
        d.update(extra)
        return d


# ---- the origin: checks the token like Cloudflare's docs ---------------------------------------

class Origin(flows.Origin):
    def __init__(self, team_url):
        self.team_url = team_url
        super().__init__(lambda req: {'path': req.path,
                                      'headers': [[k, v] for k, v in req.headers.items()]})

    def check(self, token, aud):
        """Keys from <team>/cdn-cgi/access/certs, the key of the token's kid, the signature,
        then iss and aud (Cloudflare's "Validate JWTs" recipe)."""
        return flows.check_app_token(self.team_url, token, aud)


# ---- the installation: oidc-provider + Postern as the gateway only ------------------------------

class Setup:
    """Clients at oidc-provider, the gateway's identity providers for them, one application per
    identity provider (instant auth, so that opening the application goes straight to the IdP)."""

    def __init__(self, t):
        cfg = h.postern_config()
        self.port = int(cfg['server']['listen'][0].rsplit(':', 1)[1])
        self.team = 'http://team.localhost:%d' % self.port
        self.callback = self.team + '/cdn-cgi/access/callback'
        cb = self.callback
        self.op = OP([('gate', cb, None), ('gate-es256', cb, 'ES256'),
                      ('gate-ps256', cb, 'PS256'), ('gate-hs256', cb, 'HS256'),
                      ('gate-elsewhere', 'http://elsewhere.localhost/callback', None)])
        self.origin = Origin(self.team)
        t.defer(self.origin.stop)
        op = self.op
        idps = [op.idp('OP', 'gate'),
                op.idp('OP by URLs', 'gate', discovery=False),
                op.idp('OP-ES256', 'gate-es256'),
                op.idp('OP-PS256', 'gate-ps256'),
                op.idp('OP-HS256', 'gate-hs256'),
                op.idp('OP-bad-secret', 'gate', secret='not-the-secret-0123456789'),
                op.idp('OP-elsewhere', 'gate-elsewhere')]
        o = 'http://127.0.0.1:%d' % self.origin.port

        def app(name, host, idp, policies=None):
            return {'name': name, 'domain': host + '.localhost', 'origin': o,
                    'identity_providers': [idp], 'instant_auth': True,
                    'policies': policies or [{'name': 'all', 'action': 'allow',
                                              'include': [{'everyone': True}]}]}
        staff = [{'name': 'staff', 'action': 'allow', 'include': [{'groups': ['staff']}]}]
        cfg['access'] = {'team_domain': self.team, 'identity_providers': idps, 'applications': [
            app('myapp', 'service', 'OP'), app('second', 'second', 'OP'),
            app('staffonly', 'staff', 'OP', staff), app('urls', 'urls', 'OP by URLs'),
            app('es', 'es', 'OP-ES256'), app('ps', 'ps', 'OP-PS256'),
            app('hs', 'hs', 'OP-HS256'), app('badsecret', 'badsecret', 'OP-bad-secret'),
            app('elsewhere', 'elsewhere', 'OP-elsewhere')]}
        self.srv = h.start_postern(cfg)
        self.config_path = h.write_config(cfg)  # the same data directory, for the CLI
        self.auds = self.apps_auds()

    def apps_auds(self):
        out = subprocess.run([h.postern_bin(), 'access', 'apps', '--config', self.config_path],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        return {line.split()[0]: line.split()[2] for line in out.stdout.splitlines()[1:]}

    def url(self, host, path='/'):
        return 'http://%s.localhost:%d%s' % (host, self.port, path)

    def test_idp(self, name):
        p = subprocess.run([h.postern_bin(), 'access', 'test-idp', name, '--config',
                            self.config_path], capture_output=True, text=True, timeout=60)
        report = h.sanitizer_report(p.stderr)
        if report:
            raise h.TestFailure('sanitizer report from test-idp:\n' + '\n'.join(report))
        return p.returncode, p.stdout, p.stderr


def op_forms(t, user, log):
    """A fill for flows.browse: oidc-provider's development forms (/interaction/...), the
    login form (user, any password) once, then the consent form."""

    def fill(url, r):
        nonlocal user
        forms = flows.Forms(r.text).forms if '/interaction/' in url else []
        if not forms:
            return None
        f = forms[0]
        data = dict(f['fields'])
        if 'login' in data:
            if user is None:
                t.fail('asked to log in again: %r' % log[-3:])
            data.update(login=user, password='any password')
            user = None
        return f['action'], data

    return fill


def browse(t, sess, url, user='alice', log=None):
    """flows.browse through oidc-provider's forms. Returns the final response; log gets every
    URL visited."""
    log = log if log is not None else []
    return flows.browse(t, sess, url, log=log, fill=op_forms(t, user, log), limit=30)


def signed_in(t, s, app='service', user='alice', sess=None):
    sess = sess or requests.Session()
    log = []
    r = browse(t, sess, s.url(app), user=user, log=log)
    t.eq(r.status_code, 200, 'origin page after login: %s' % r.text[:400])
    return sess, r.json(), log


def page_text(r):
    return html.unescape(r.text)


def id_token_of(t, s, client_id, user='alice'):
    """Logs in at oidc-provider as client_id by hand (the gateway's redirect URI, the code
    taken from the redirect instead of following it) and returns the ID token's header:
    which algorithm oidc-provider really signs this client's tokens with."""
    sess = requests.Session()
    q = {'client_id': client_id, 'response_type': 'code', 'scope': 'openid email',
         'redirect_uri': s.callback, 'state': 'probe-state', 'nonce': 'probe-nonce'}
    url = s.op.issuer + '/auth?' + urllib.parse.urlencode(q)
    r = sess.get(url, allow_redirects=False, timeout=10)
    for _ in range(20):
        if r.status_code in (302, 303):
            url = urllib.parse.urljoin(url, r.headers['Location'])
            if url.startswith(s.callback):
                break
            r = sess.get(url, allow_redirects=False, timeout=10)
            continue
        t.eq(r.status_code, 200, 'probe at %s' % url)
        f = flows.Forms(r.text).forms[0]
        data = dict(f['fields'], **({'login': user, 'password': 'x'}
                                    if 'login' in f['fields'] else {}))
        url = urllib.parse.urljoin(url, f['action'])
        r = sess.post(url, data=data, allow_redirects=False, timeout=10)
    code = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)['code'][0]
    r = requests.post(s.op.issuer + '/token', auth=(client_id, SECRET), timeout=10,
                      data={'grant_type': 'authorization_code', 'code': code,
                            'redirect_uri': s.callback})
    t.eq(r.status_code, 200, r.text)
    head = r.json()['id_token'].split('.')[0]
    return json.loads(base64url_decode(head))


# ---- tests --------------------------------------------------------------------------------------

@h.test
def login_through_oidc_provider_reaches_the_origin_with_a_valid_token(t):
    s = Setup(t)
    sess, doc, log = signed_in(t, s)
    hosts = [urllib.parse.urlsplit(u.split(' ')[-1]).hostname for u in log]
    t.eq(hosts[0], 'service.localhost')
    t.ok('team.localhost' in hosts and 'idp.localhost' in hosts, 'path %r' % hosts)
    joined = ' '.join(log)
    t.contains(joined, '/cdn-cgi/access/login/service.localhost')
    t.contains(joined, s.op.issuer + '/auth?')
    t.contains(joined, '/interaction/')  # oidc-provider's own login and consent pages
    t.contains(joined, '/cdn-cgi/access/callback?')
    t.contains(joined, '/cdn-cgi/access/authorized?token=')
    # The authorization request: PKCE S256, state and nonce (the gateway's side of the flow).
    auth = [u for u in log if u.startswith(s.op.issuer + '/auth?')][0]
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(auth).query)
    t.eq(q['code_challenge_method'], ['S256'])
    t.eq(q['redirect_uri'], [s.callback])
    t.eq(q['scope'], ['openid email profile groups'])
    t.ok(len(q['state'][0]) >= 43 and len(q['nonce'][0]) >= 43, q)
    # The origin got the identity from oidc-provider's ID token, in a token it can verify.
    t.eq(flows.header(doc, 'Cf-Access-Authenticated-User-Email'), ['alice@example.org'])
    check = s.origin.check(flows.header(doc, 'Cf-Access-Jwt-Assertion')[0], s.auds['myapp'])
    t.ok(check['valid'], 'origin check: %r' % check)
    c = check['claims']
    t.eq(c['email'], 'alice@example.org')
    t.eq(c['type'], 'app')
    t.eq(c['iss'], s.team)
    t.eq(c['aud'], [s.auds['myapp']])
    t.eq(c.get('groups'), ['staff', 'users'])
    # A token of this application is not one of the second application.
    t.eq(s.origin.check(flows.header(doc, 'Cf-Access-Jwt-Assertion')[0], s.auds['second'])['valid'],
         False)
    # get-identity: oidc-provider's claims, and which IdP.
    r = sess.get(s.url('service', '/cdn-cgi/access/get-identity'), timeout=10)
    t.eq(r.status_code, 200)
    i = r.json()
    t.eq(i['email'], 'alice@example.org')
    t.eq(i['groups'], ['staff', 'users'])
    t.eq(i['idp']['id'], 'OP')
    t.eq(i['name'], 'User alice')
    # A reload needs no login.
    log2 = []
    r = browse(t, sess, s.url('service', '/again'), user=None, log=log2)
    t.eq(r.status_code, 200)
    t.eq(len(log2), 1, 'reload redirected: %r' % log2)


@h.test
def single_sign_on_to_a_second_application_then_logout_everywhere(t):
    s = Setup(t)
    sess, _, _ = signed_in(t, s)
    log = []
    r = browse(t, sess, s.url('second'), user=None, log=log)
    t.eq(r.status_code, 200, 'second app: %s' % r.text[:300])
    t.ok(not any('idp.localhost' in u for u in log), 'went to the IdP again: %r' % log)
    check = s.origin.check(flows.header(r.json(), 'Cf-Access-Jwt-Assertion')[0], s.auds['second'])
    t.ok(check['valid'], check)
    t.eq(check['claims']['email'], 'alice@example.org')
    second_cookie = flows.cookies(sess, 'CF_Authorization', 'second.localhost')[0]
    r = browse(t, sess, s.url('service', '/cdn-cgi/access/logout'), user=None)
    t.eq(r.status_code, 200)
    t.contains(r.text.lower(), 'logged out')
    before = len(s.origin.seen)
    for app in ('service', 'second'):
        r = sess.get(s.url(app), allow_redirects=False, timeout=10)
        t.eq(r.status_code, 302, app)
        t.contains(r.headers['Location'], s.team + '/cdn-cgi/access/login/')
    r = requests.get(s.url('second'), cookies={'CF_Authorization': second_cookie},
                     allow_redirects=False, timeout=10)
    t.eq(r.status_code, 302, 'a copy of the revoked session still served')
    t.eq(len(s.origin.seen), before)


@h.test
def groups_from_oidc_provider_decide_the_policies(t):
    s = Setup(t)
    _, doc, _ = signed_in(t, s, app='staff', user='alice')
    check = s.origin.check(flows.header(doc, 'Cf-Access-Jwt-Assertion')[0], s.auds['staffonly'])
    t.ok(check['valid'], check)
    t.eq(check['claims']['groups'], ['staff', 'users'])
    # bob is in "users" only: signed in at the IdP, refused by the gateway's policy.
    before = len(s.origin.seen)
    sess = requests.Session()
    r = browse(t, sess, s.url('staff'), user='bob')
    t.eq(r.status_code, 403, r.text[:300])
    t.contains(page_text(r), 'bob@example.org')
    t.eq(len(s.origin.seen), before, 'the origin saw a refused user')
    # bob's session is good for an application that allows everyone (no second IdP login).
    log = []
    r = browse(t, sess, s.url('service'), user=None, log=log)
    t.eq(r.status_code, 200, r.text[:300])
    t.eq(flows.header(r.json(), 'Cf-Access-Authenticated-User-Email'), ['bob@example.org'])
    claims = s.origin.check(flows.header(r.json(), 'Cf-Access-Jwt-Assertion')[0],
                            s.auds['myapp'])['claims']
    t.eq(claims['groups'], ['users'])


@h.test
def explicit_urls_and_issuer_work_without_discovery(t):
    s = Setup(t)
    sess, doc, log = signed_in(t, s, app='urls')
    t.eq(flows.header(doc, 'Cf-Access-Authenticated-User-Email'), ['alice@example.org'])
    t.ok(s.origin.check(flows.header(doc, 'Cf-Access-Jwt-Assertion')[0], s.auds['urls'])['valid'])
    # test-idp: every check passes, and the printed Test URL (the name has spaces) runs the
    # interactive test on the gateway.
    rc, out, err = s.test_idp('OP by URLs')
    t.eq(rc, 0, out + err)
    t.ok('discovery' not in out, 'no discovery_url, yet a discovery check:\n' + out)
    want = s.team + '/cdn-cgi/access/test/OP%20by%20URLs'
    t.contains(out, 'interactive test (a real login in a browser): %s\n' % want)
    r = browse(t, requests.Session(), want)
    t.eq(r.status_code, 200, r.text[:400])
    text = page_text(r)
    t.contains(text, 'Your connection works!')
    t.contains(text, 'Signed in through OP by URLs as alice@example.org')
    t.contains(text, '"groups":["staff","users"]')
    t.contains(text, '"iss":"%s"' % s.op.issuer)


@h.test
def id_tokens_signed_es256_and_ps256_are_accepted(t):
    s = Setup(t)
    for app, client, alg in (('es', 'gate-es256', 'ES256'), ('ps', 'gate-ps256', 'PS256')):
        # oidc-provider really signs this client's ID tokens with alg...
        t.eq(id_token_of(t, s, client)['alg'], alg)
        # ...and the gateway accepts them: the origin gets the user.
        _, doc, _ = signed_in(t, s, app=app)
        t.eq(flows.header(doc, 'Cf-Access-Authenticated-User-Email'), ['alice@example.org'], app)
        check = s.origin.check(flows.header(doc, 'Cf-Access-Jwt-Assertion')[0],
                               s.auds['es' if app == 'es' else 'ps'])
        t.ok(check['valid'], '%s: %r' % (app, check))


@h.test
def an_hs256_id_token_is_refused_as_not_signed_with_an_asymmetric_key(t):
    s = Setup(t)
    t.eq(id_token_of(t, s, 'gate-hs256')['alg'], 'HS256')
    before = len(s.origin.seen)
    sess = requests.Session()
    log = []
    r = browse(t, sess, s.url('hs'), log=log)
    t.ok(any('/cdn-cgi/access/callback?' in u for u in log), 'never came back: %r' % log)
    t.eq(r.status_code, 502, r.text[:400])
    text = page_text(r)
    t.contains(text, 'Sign-in failed')
    t.contains(text, 'The ID token is not signed with an asymmetric key.')
    t.eq(len(s.origin.seen), before, 'the origin was reached')
    t.ok(not any(c.name == 'CF_Authorization' for c in sess.cookies), 'a session was made')
    # The Test page says the same, with the detail.
    r = browse(t, requests.Session(), s.team + '/cdn-cgi/access/test/OP-HS256')
    t.eq(r.status_code, 502, r.text[:400])
    text = page_text(r)
    t.contains(text, 'The ID token is not signed with an asymmetric key.')
    t.contains(text, 'HS256')
    t.contains(text, '(not_asymmetric)')
    t.ok('Your connection works!' not in text)


@h.test
def a_wrong_client_secret_is_diagnosed(t):
    s = Setup(t)
    before = len(s.origin.seen)
    log = []
    r = browse(t, requests.Session(), s.url('badsecret'), log=log)
    t.ok(any('/cdn-cgi/access/callback?' in u for u in log), 'never came back: %r' % log)
    t.eq(r.status_code, 502, r.text[:400])
    text = page_text(r)
    t.contains(text, 'Sign-in failed')
    t.contains(text, 'The token endpoint refused the client: check client_id and client_secret.')
    t.eq(len(s.origin.seen), before)
    r = browse(t, requests.Session(), s.team + '/cdn-cgi/access/test/OP-bad-secret')
    t.eq(r.status_code, 502)
    text = page_text(r)
    t.contains(text, '(invalid_client)')
    t.contains(text, s.op.issuer + '/token')
    t.ok('not-the-secret' not in text, 'the Test page shows the client secret')
    rc, out, err = s.test_idp('OP-bad-secret')
    t.eq(rc, 1, out + err)
    line = [l for l in out.splitlines() if l.startswith('token endpoint ')]
    t.eq(len(line), 1, out)
    t.contains(line[0], 'invalid_client')
    t.ok('not-the-secret' not in out + err, 'test-idp printed the client secret')
    for what in ('discovery', 'jwks', 'authorization endpoint', 'clock'):
        t.ok(any(l.startswith(what + ' ') and ' OK ' in l for l in out.splitlines()),
             '%s not OK:\n%s' % (what, out))


@h.test
def a_redirect_uri_not_registered_at_the_idp_is_diagnosed_by_test_idp(t):
    s = Setup(t)
    before = len(s.origin.seen)
    # In a browser, oidc-provider shows its own error page: the browser never comes back to
    # the gateway, which therefore cannot say anything...
    for start in (s.url('elsewhere'), s.team + '/cdn-cgi/access/test/OP-elsewhere'):
        log = []
        r = browse(t, requests.Session(), start, log=log)
        t.eq(r.status_code, 400, r.text[:300])
        t.eq(urllib.parse.urlsplit(log[-1]).hostname, 'idp.localhost', log)
        t.contains(r.text, 'redirect_uri did not match')
        t.ok(not any('/cdn-cgi/access/callback' in u for u in log), log)
    t.eq(len(s.origin.seen), before)
    # ...so test-idp makes the authorization request itself and reads the refusal.
    rc, out, err = s.test_idp('OP-elsewhere')
    t.eq(rc, 1, out + err)
    line = [l for l in out.splitlines() if l.startswith('authorization endpoint ')]
    t.eq(len(line), 1, out)
    t.contains(line[0], 'redirect_uri')
    t.contains(line[0], 'The redirect URI is not registered at the identity provider.')
    t.contains(line[0], 'register %s as a redirect URI' % s.callback)
    t.contains(out, '4 of 5 checks passed\n')
    # The good client of the same IdP passes every check.
    rc, out, err = s.test_idp('OP')
    t.eq(rc, 0, out + err)
    t.contains(out, '5 of 5 checks passed\n')


if __name__ == '__main__':
    h.main()
