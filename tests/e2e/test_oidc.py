"""End-to-end tests of the OAuth 2.0 / OpenID Connect provider (src/oidc, issue 3 item 5).

A real `postern serve` with users, groups, providers and applications from its config file;
real clients: python3-requests driving the HTML login form, python3-authlib's OAuth2Session
running the code flow with PKCE, python3-jwcrypto verifying tokens against /jwks/.

Each test says: this config, these requests, these answers. OIDC Basic OP behaviours:
nonce (code_flow_pkce_basic, authlib_client), code reuse (code_reuse_revokes_tokens),
prompt=none (prompt_none), max_age (max_age_and_prompt_login), registered redirect URI
(authorize_page_errors, open_redirect_payloads), userinfo styles (userinfo_styles),
refresh (refresh_rotation_and_reuse).
"""

import base64
import hashlib
import html
import json
import os
import sys
import time
import urllib.parse as up

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from flows import (CB, CF_ID, CF_SECRET, LOGIN_PATH, REDIRECTS, VERIFIER, Forms,  # noqa: E402
                   auth_params, authorize, provider, query_of, strict, token, userinfo)

import requests  # noqa: E402
from jwcrypto import jwk, jws, jwt  # noqa: E402

LOGGED_OUT = 'https://myteam.cloudflareaccess.com/logged-out'
PASSWORD = 's3cret-pass'


# ---- the server ------------------------------------------------------------------------------

class IdP:
    """A running IdP with the walkthrough's provider and a few more."""

    def __init__(self):
        cfg = h.postern_config()
        port = int(cfg['server']['listen'][0].rsplit(':', 1)[1])
        self.base = 'http://127.0.0.1:%d' % port
        cfg['idp'] = {'public_url': self.base}
        cfg['groups'] = [{'name': 'staff'}, {'name': 'admins'}]
        cfg['users'] = [
            {'username': 'alice', 'name': 'Alice Example', 'email': 'alice@example.com',
             'password': PASSWORD, 'groups': ['staff']},
            {'username': 'bob', 'name': 'Bob', 'email': 'bob@example.com',
             'password': PASSWORD, 'groups': ['admins']},
        ]
        cf = provider('Cloudflare', CF_ID, [strict(CB), strict(LOGGED_OUT)])
        cf['client_secret'] = CF_SECRET
        cfg['providers'] = [
            cf,
            provider('Other', 'other-client', [strict('https://other.example/cb')]),
            provider('SPA', 'spa', [strict('https://spa.example/cb')], client_type='public'),
            provider('Regex', 'regex-client',
                     [{'matching_mode': 'regex', 'url': r'https://app\.example\.com/cb.*'}]),
            provider('Consent', 'consent-client', [strict('https://consent.example/cb')],
                     authorization_flow='default-provider-authorization-explicit-consent'),
            provider('Admins', 'admins-client', [strict('https://admins.example/cb')]),
            provider('Short', 'short-client', [strict('https://short.example/cb')],
                     access_code_validity=1),
            provider('Empty', 'empty-client', []),
        ]
        cfg['applications'] = [
            {'name': 'Cloudflare', 'slug': 'cloudflare', 'provider': 'Cloudflare',
             'policy_engine_mode': 'any'},
            {'name': 'Other', 'slug': 'other', 'provider': 'Other'},
            {'name': 'SPA', 'slug': 'spa', 'provider': 'SPA'},
            {'name': 'Regex', 'slug': 'regex', 'provider': 'Regex'},
            {'name': 'Consent', 'slug': 'consent-app', 'provider': 'Consent'},
            {'name': 'Admins', 'slug': 'admins-app', 'provider': 'Admins',
             'policy_engine_mode': 'any', 'bindings': [{'group': 'admins'}]},
            {'name': 'Short', 'slug': 'short', 'provider': 'Short'},
            {'name': 'Empty', 'slug': 'empty', 'provider': 'Empty'},
        ]
        self.srv = h.start_postern(cfg)

    def url(self, path):
        return self.base + path

    def issuer(self, slug='cloudflare'):
        return self.url('/application/o/%s/' % slug)

    def jwks(self, slug='cloudflare'):
        r = requests.get(self.url('/application/o/%s/jwks/' % slug))
        assert r.status_code == 200, r.text
        return jwk.JWKSet.from_json(r.text)


# ---- HTML and flows -----------------------------------------------------------------------------

def login_form(t, idp, sess, location):
    """GETs the login page at location; returns its form."""
    t.ok(location.startswith(LOGIN_PATH), 'not the login page: %r' % location)
    r = sess.get(idp.url(location), allow_redirects=False)
    t.eq(r.status_code, 200, 'login page')
    forms = Forms(r.text).forms
    t.eq(len(forms), 1, 'forms on the login page')
    return forms[0]


def log_in(t, idp, sess, location, username='alice', password=PASSWORD):
    """Submits the login form reached at location; returns the answer (302 to next)."""
    f = login_form(t, idp, sess, location)
    t.ok('csrf_token' in f['fields'], 'login form without csrf_token')
    data = dict(f['fields'])
    data.update({'username': username, 'password': password})
    r = sess.post(idp.url(f['action']), data=data, allow_redirects=False)
    t.eq(r.status_code, 302, 'login POST')
    return r


def follow_local(idp, sess, r, limit=10):
    """Follows redirects on the IdP's origin; stops at one that leaves it (returned)."""
    for _ in range(limit):
        if r.status_code not in REDIRECTS:
            return r
        loc = r.headers['Location']
        if not loc.startswith('/'):
            return r
        r = sess.get(idp.url(loc), allow_redirects=False)
    raise h.TestFailure('redirect loop')


def code_flow(t, idp, sess=None, **over):
    """Authorize (logging in when asked); returns (code, query of the callback, session)."""
    sess = sess or requests.Session()
    r = authorize(idp, sess, **over)
    t.eq(r.status_code, 302, 'authorize')
    loc = r.headers['Location']
    if loc.startswith(LOGIN_PATH):
        r = follow_local(idp, sess, log_in(t, idp, sess, loc))
    t.eq(r.status_code, 302)
    loc = r.headers['Location']
    redirect = auth_params(**over)['redirect_uri']
    t.ok(loc.startswith(redirect + '?'), 'callback expected, got %r' % loc)
    q = query_of(loc)
    t.ok('code' in q, 'no code in %r' % loc)
    return q['code'], q, sess


def exchange(idp, code, **over):
    data = {'grant_type': 'authorization_code', 'code': code, 'redirect_uri': CB,
            'code_verifier': VERIFIER}
    data.update(over)
    return token(idp, data)


def b64url_sha256_half(s):
    d = hashlib.sha256(s.encode()).digest()
    return base64.urlsafe_b64encode(d[:len(d) // 2]).rstrip(b'=').decode()


def verify(idp, tok, slug='cloudflare', typ=None):
    """Verifies a JWT with the application's JWKS (jwcrypto); returns (header, claims)."""
    ks = idp.jwks(slug)
    w = jws.JWS()
    w.deserialize(tok)
    hdr = w.jose_header
    key = ks.get_key(hdr['kid'])
    assert key is not None, 'kid %s not in the JWKS' % hdr['kid']
    w.verify(key, alg=hdr['alg'])
    if typ is not None:
        assert hdr.get('typ') == typ, hdr
    claims = json.loads(jwt.JWT(jwt=tok, key=ks).claims)
    return hdr, claims


def no_store(t, r):
    t.eq(r.headers.get('Cache-Control'), 'no-store')
    t.eq(r.headers.get('Pragma'), 'no-cache')


# ---- discovery and keys ------------------------------------------------------------------------

@h.test
def discovery_and_jwks(t):
    idp = IdP()
    r = requests.get(idp.url('/application/o/cloudflare/.well-known/openid-configuration'))
    t.eq(r.status_code, 200)
    t.contains(r.headers['Content-Type'], 'application/json')
    d = r.json()
    t.eq(d['issuer'], idp.issuer())
    t.eq(d['authorization_endpoint'], idp.url('/application/o/authorize/'))
    t.eq(d['token_endpoint'], idp.url('/application/o/token/'))
    t.eq(d['userinfo_endpoint'], idp.url('/application/o/userinfo/'))
    t.eq(d['jwks_uri'], idp.url('/application/o/cloudflare/jwks/'))
    t.eq(d['end_session_endpoint'], idp.url('/application/o/cloudflare/end-session/'))
    t.eq(d['introspection_endpoint'], idp.url('/application/o/introspect/'))
    t.eq(d['revocation_endpoint'], idp.url('/application/o/revoke/'))
    t.eq(d['response_types_supported'], ['code'])
    t.eq(d['code_challenge_methods_supported'], ['S256', 'plain'])
    t.eq(d['id_token_signing_alg_values_supported'], ['RS256'])
    t.eq(d['request_parameter_supported'], False)
    # cached bytes: ETag, 304, Cache-Control
    etag = r.headers['ETag']
    t.contains(r.headers['Cache-Control'], 'public')
    r2 = requests.get(idp.url('/application/o/cloudflare/.well-known/openid-configuration'))
    t.eq(r2.content, r.content)
    t.eq(r2.headers['ETag'], etag)
    r3 = requests.get(idp.url('/application/o/cloudflare/.well-known/openid-configuration'),
                      headers={'If-None-Match': etag})
    t.eq(r3.status_code, 304)
    # JWKS: the provider's key with kid, x5c, x5t, x5t#S256
    r = requests.get(idp.url('/application/o/cloudflare/jwks/'))
    t.eq(r.status_code, 200)
    keys = r.json()['keys']
    t.eq(len(keys), 1)
    for member in ('kid', 'x5c', 'x5t', 'x5t#S256', 'n', 'e'):
        t.ok(member in keys[0], 'JWK without %s' % member)
    t.eq(keys[0]['alg'], 'RS256')
    # other slugs: another issuer, same shape
    d2 = requests.get(idp.url('/application/o/other/.well-known/openid-configuration')).json()
    t.eq(d2['issuer'], idp.issuer('other'))
    # unknown slug, reserved names, wrong methods
    for path in ('/application/o/nope/.well-known/openid-configuration',
                 '/application/o/nope/jwks/',
                 '/application/o/token/.well-known/openid-configuration',
                 '/application/o/authorize/jwks/',
                 '/application/o/cloudflare/unknown/',
                 '/application/o/cloudflare/'):
        r = requests.get(idp.url(path))
        t.eq(r.status_code, 404, path)
        t.contains(r.headers['Content-Type'], 'application/json')
    r = requests.post(idp.url('/application/o/cloudflare/jwks/'))
    t.eq(r.status_code, 405)
    r = requests.get(idp.url('/application/o/token/'))
    t.eq(r.status_code, 405)


# ---- the code flow ----------------------------------------------------------------------------

@h.test
def code_flow_pkce_basic(t):
    idp = IdP()
    started = int(time.time())
    code, q, sess = code_flow(t, idp)
    t.eq(q['state'], 'state-123')
    t.eq(q['iss'], idp.issuer())  # RFC 9207
    r = exchange(idp, code)
    t.eq(r.status_code, 200, r.text)
    no_store(t, r)
    body = r.json()
    t.eq(body['token_type'], 'Bearer')
    t.eq(body['expires_in'], 3600)
    t.eq(body['scope'], 'openid email profile offline_access')
    for k in ('access_token', 'id_token', 'refresh_token'):
        t.ok(k in body, 'no %s' % k)
    hdr, c = verify(idp, body['id_token'])
    t.eq(hdr['alg'], 'RS256')
    t.eq(c['iss'], idp.issuer())
    t.eq(c['aud'], CF_ID)
    t.eq(c['azp'], CF_ID)
    t.eq(c['nonce'], 'nonce-456')
    t.eq(c['at_hash'], b64url_sha256_half(body['access_token']))
    t.ge(c['auth_time'], started - 1)
    t.eq(c['acr'], 'goauthentik.io/providers/oauth2/default')
    t.eq(c['amr'], ['pwd'])
    t.eq(c['exp'] - c['iat'], 3600)
    t.eq(len(c['sub']), 64)  # hashed_user_id
    t.eq(c['email'], 'alice@example.com')
    t.eq(c['email_verified'], True)
    t.eq(c['name'], 'Alice Example')
    t.eq(c['given_name'], 'Alice')
    t.eq(c['preferred_username'], 'alice')
    t.eq(c['groups'], ['staff'])
    ahdr, ac = verify(idp, body['access_token'], typ='at+jwt')
    t.eq(ac['client_id'], CF_ID)
    t.eq(ac['aud'], CF_ID)
    t.eq(ac['sub'], c['sub'])
    t.eq(ac['scope'], 'openid email profile offline_access')
    t.ok(ac.get('jti'), 'access token without jti')
    # client_secret_post works as well (new flow: the session is reused, no login)
    code2, _, _ = code_flow(t, idp, sess, nonce='second')
    r = token(idp, {'grant_type': 'authorization_code', 'code': code2, 'redirect_uri': CB,
                    'code_verifier': VERIFIER, 'client_id': CF_ID,
                    'client_secret': CF_SECRET}, auth=None)
    t.eq(r.status_code, 200, r.text)
    _, c2 = verify(idp, r.json()['id_token'])
    t.eq(c2['nonce'], 'second')
    t.eq(c2['sub'], c['sub'])
    # without offline_access: no refresh token; without openid: no ID token
    code3, _, _ = code_flow(t, idp, sess, scope='openid email')
    b3 = exchange(idp, code3).json()
    t.ok('refresh_token' not in b3, 'refresh token without offline_access')
    t.eq(b3['scope'], 'openid email')
    _, c3 = verify(idp, b3['id_token'])
    t.ok('name' not in c3 and 'groups' not in c3, 'profile claims without profile')
    code4, _, _ = code_flow(t, idp, sess, scope='email profile')
    b4 = exchange(idp, code4).json()
    t.ok('id_token' not in b4, 'ID token without openid')
    # plain PKCE and no nonce
    code5, _, _ = code_flow(t, idp, sess, code_challenge=VERIFIER, code_challenge_method='plain',
                            nonce=None)
    r5 = exchange(idp, code5)
    t.eq(r5.status_code, 200, r5.text)
    _, c5 = verify(idp, r5.json()['id_token'])
    t.ok('nonce' not in c5, 'nonce without a nonce in the request')


@h.test
def authlib_client(t):
    """A real OAuth client library: authlib's OAuth2Session with PKCE S256."""
    from authlib.integrations.requests_client import OAuth2Session
    idp = IdP()
    disc = requests.get(idp.url('/application/o/cloudflare/.well-known/openid-configuration'))
    meta = disc.json()
    client = OAuth2Session(CF_ID, CF_SECRET, scope='openid email profile', redirect_uri=CB,
                           code_challenge_method='S256',
                           token_endpoint_auth_method='client_secret_basic')
    verifier = base64.urlsafe_b64encode(os.urandom(40)).rstrip(b'=').decode()
    nonce = base64.urlsafe_b64encode(os.urandom(12)).rstrip(b'=').decode()
    url, state = client.create_authorization_url(meta['authorization_endpoint'],
                                                 code_verifier=verifier, nonce=nonce)
    browser = requests.Session()
    r = browser.get(url, allow_redirects=False)
    r = follow_local(idp, browser, log_in(t, idp, browser, r.headers['Location']))
    callback = r.headers['Location']
    t.ok(callback.startswith(CB + '?'), callback)
    tok = client.fetch_token(meta['token_endpoint'], authorization_response=callback,
                             code_verifier=verifier, state=state)
    _, c = verify(idp, tok['id_token'])
    t.eq(c['nonce'], nonce)
    t.eq(c['iss'], meta['issuer'])
    info = client.get(meta['userinfo_endpoint']).json()
    t.eq(info['sub'], c['sub'])
    t.eq(info['email'], 'alice@example.com')


@h.test
def code_reuse_revokes_tokens(t):
    idp = IdP()
    code, _, _ = code_flow(t, idp)
    first = exchange(idp, code)
    t.eq(first.status_code, 200)
    at = first.json()['access_token']
    rt = first.json()['refresh_token']
    t.eq(userinfo(idp, at).status_code, 200)
    again = exchange(idp, code)
    t.eq(again.status_code, 400)
    t.eq(again.json()['error'], 'invalid_grant')
    no_store(t, again)
    # RFC 6749 4.1.2: what the code issued is revoked
    r = userinfo(idp, at)
    t.eq(r.status_code, 401)
    t.contains(r.headers.get('WWW-Authenticate', ''), 'invalid_token')
    r = token(idp, {'grant_type': 'refresh_token', 'refresh_token': rt})
    t.eq(r.json().get('error'), 'invalid_grant')
    r = requests.post(idp.url('/application/o/introspect/'), data={'token': at},
                      auth=(CF_ID, CF_SECRET))
    t.eq(r.json(), {'active': False})


@h.test
def token_endpoint_errors(t):
    idp = IdP()
    code, _, sess = code_flow(t, idp)
    # client authentication
    r = token(idp, {'grant_type': 'authorization_code', 'code': code, 'redirect_uri': CB,
                    'code_verifier': VERIFIER}, auth=(CF_ID, 'wrong'))
    t.eq(r.status_code, 401)
    t.eq(r.json()['error'], 'invalid_client')
    t.contains(r.headers.get('WWW-Authenticate', ''), 'Basic')
    no_store(t, r)
    r = token(idp, {'grant_type': 'authorization_code', 'code': code, 'client_id': CF_ID,
                    'client_secret': 'wrong'}, auth=None)
    t.eq(r.status_code, 401)
    t.eq(r.json()['error'], 'invalid_client')
    r = token(idp, {'grant_type': 'authorization_code', 'code': code,
                    'client_secret': CF_SECRET})
    t.eq(r.status_code, 400)  # two authentication methods
    t.eq(r.json()['error'], 'invalid_request')
    r = token(idp, {'grant_type': 'authorization_code', 'code': code}, auth=('nobody', 'x'))
    t.eq(r.status_code, 401)
    r = token(idp, {'grant_type': 'authorization_code', 'code': code}, auth=None)
    t.eq(r.status_code, 401)
    # the failed client attempts did not burn the code: redirect_uri must match
    r = exchange(idp, code, redirect_uri=CB + '/x')
    t.eq(r.json()['error'], 'invalid_grant')
    # ... and the code is now used (checks after taking it)
    r = exchange(idp, code)
    t.eq(r.json()['error'], 'invalid_grant')
    # PKCE
    code, _, _ = code_flow(t, idp, sess)
    r = exchange(idp, code, code_verifier='x' * 43)
    t.eq(r.json()['error'], 'invalid_grant')
    code, _, _ = code_flow(t, idp, sess)
    r = token(idp, {'grant_type': 'authorization_code', 'code': code, 'redirect_uri': CB})
    t.eq(r.json()['error'], 'invalid_grant')  # verifier missing
    code, _, _ = code_flow(t, idp, sess, code_challenge=None, code_challenge_method=None)
    r = exchange(idp, code)
    t.eq(r.json()['error'], 'invalid_grant')  # verifier without challenge (downgrade)
    # another client cannot use (or burn) someone's code
    code, _, _ = code_flow(t, idp, sess)
    r = token(idp, {'grant_type': 'authorization_code', 'code': code, 'redirect_uri': CB,
                    'code_verifier': VERIFIER},
              auth=('other-client', 'other-client-secret-0123456789'))
    t.eq(r.json()['error'], 'invalid_grant')
    t.eq(exchange(idp, code).status_code, 200)
    # grant types, methods, encodings
    r = token(idp, {'grant_type': 'password', 'username': 'alice', 'password': PASSWORD})
    t.eq(r.json()['error'], 'unsupported_grant_type')
    r = token(idp, {'code': 'x'})
    t.eq(r.json()['error'], 'invalid_request')
    r = requests.post(idp.url('/application/o/token/'), json={'grant_type': 'client_credentials'},
                      auth=(CF_ID, CF_SECRET))
    t.eq(r.status_code, 400)
    t.eq(r.json()['error'], 'invalid_request')
    r = requests.post(idp.url('/application/o/token/?grant_type=client_credentials'),
                      data={'grant_type': 'client_credentials'}, auth=(CF_ID, CF_SECRET))
    t.eq(r.status_code, 400)
    r = requests.post(idp.url('/application/o/token/'),
                      data='grant_type=client_credentials&grant_type=client_credentials',
                      headers={'Content-Type': 'application/x-www-form-urlencoded'},
                      auth=(CF_ID, CF_SECRET))
    t.eq(r.json()['error'], 'invalid_request')
    r = requests.post(idp.url('/application/o/token/'), data={'x': 'y' * (20 * 1024)})
    t.eq(r.status_code, 413)
    # an expired code
    code, _, _ = code_flow(t, idp, sess, client_id='short-client',
                           redirect_uri='https://short.example/cb')
    time.sleep(2.2)
    r = token(idp, {'grant_type': 'authorization_code', 'code': code,
                    'redirect_uri': 'https://short.example/cb', 'code_verifier': VERIFIER},
              auth=('short-client', 'short-client-secret-0123456789'))
    t.eq(r.json()['error'], 'invalid_grant')


@h.test
def refresh_rotation_and_reuse(t):
    idp = IdP()
    code, _, _ = code_flow(t, idp)
    b0 = exchange(idp, code).json()
    rt0 = b0['refresh_token']
    r1 = token(idp, {'grant_type': 'refresh_token', 'refresh_token': rt0})
    t.eq(r1.status_code, 200, r1.text)
    no_store(t, r1)
    b1 = r1.json()
    rt1 = b1['refresh_token']
    t.ne(rt1, rt0)
    _, c1 = verify(idp, b1['id_token'])
    t.eq(c1['aud'], CF_ID)
    t.eq(userinfo(idp, b1['access_token']).status_code, 200)
    # narrowing is allowed, widening is not
    r2 = token(idp, {'grant_type': 'refresh_token', 'refresh_token': rt1,
                     'scope': 'openid offline_access'})
    t.eq(r2.status_code, 200, r2.text)
    b2 = r2.json()
    t.eq(b2['scope'], 'openid offline_access')
    info = userinfo(idp, b2['access_token']).json()
    t.ok('email' not in info, 'narrowed scope still gives email')
    r3 = token(idp, {'grant_type': 'refresh_token', 'refresh_token': b2['refresh_token'],
                     'scope': 'openid email offline_access'})
    t.eq(r3.json()['error'], 'invalid_scope')
    # another client cannot use it
    r = token(idp, {'grant_type': 'refresh_token', 'refresh_token': b2['refresh_token']},
              auth=('other-client', 'other-client-secret-0123456789'))
    t.eq(r.json()['error'], 'invalid_grant')
    # replay of an old refresh token: invalid_grant, and the whole family is revoked
    r = token(idp, {'grant_type': 'refresh_token', 'refresh_token': rt0})
    t.eq(r.status_code, 400)
    t.eq(r.json()['error'], 'invalid_grant')
    r = token(idp, {'grant_type': 'refresh_token', 'refresh_token': b2['refresh_token']})
    t.eq(r.json()['error'], 'invalid_grant')
    t.eq(userinfo(idp, b2['access_token']).status_code, 401)
    t.eq(userinfo(idp, b0['access_token']).status_code, 401)


@h.test
def userinfo_styles(t):
    idp = IdP()
    code, _, _ = code_flow(t, idp)
    b = exchange(idp, code).json()
    at = b['access_token']
    _, c = verify(idp, b['id_token'])
    for method, via in (('GET', 'header'), ('POST', 'header'), ('POST', 'body')):
        r = userinfo(idp, at, method, via)
        t.eq(r.status_code, 200, '%s %s' % (method, via))
        info = r.json()
        t.eq(info['sub'], c['sub'])
        t.eq(info['email'], 'alice@example.com')
        t.eq(info['email_verified'], True)
        t.eq(info['preferred_username'], 'alice')
        t.eq(info['groups'], ['staff'])
    url = idp.url('/application/o/userinfo/')
    r = requests.get(url)
    t.eq(r.status_code, 401)
    t.contains(r.headers['WWW-Authenticate'], 'Bearer')
    r = requests.get(url + '?access_token=' + at)  # never from the query
    t.eq(r.status_code, 401)
    r = requests.post(url, data={'access_token': at}, headers={'Authorization': 'Bearer ' + at})
    t.eq(r.status_code, 400)
    t.eq(r.json()['error'], 'invalid_request')
    r = requests.get(url, headers={'Authorization': 'Bearer ' + b['id_token']})
    t.eq(r.status_code, 401)  # an ID token is not an access token
    t.contains(r.headers['WWW-Authenticate'], 'error="invalid_token"')
    r = requests.get(url, headers={'Authorization': 'Bearer ' + at[:-2] + 'xx'})
    t.eq(r.status_code, 401)
    r = requests.get(url, headers={'Authorization': 'Basic ' + at})
    t.eq(r.status_code, 400)
    # client_credentials tokens have no user
    cc = token(idp, {'grant_type': 'client_credentials'}).json()
    t.eq(userinfo(idp, cc['access_token']).status_code, 401)


# ---- the authorize endpoint ---------------------------------------------------------------------

def page_error(t, r, status=400):
    t.eq(r.status_code, status, r.text[:300])
    t.eq(r.headers.get('Location'), None)
    t.contains(r.headers.get('Content-Type', ''), 'text/html')


@h.test
def authorize_page_errors(t):
    """Errors about the client or the redirect URI are pages, never redirects."""
    idp = IdP()
    s = requests.Session()
    page_error(t, authorize(idp, s, client_id='unknown'))
    page_error(t, authorize(idp, s, client_id=None))
    page_error(t, authorize(idp, s, redirect_uri=None))
    page_error(t, authorize(idp, s, redirect_uri='https://evil.example/cb'))
    page_error(t, authorize(idp, s, redirect_uri=CB + '/'))
    page_error(t, authorize(idp, s, redirect_uri=CB + '#x'))
    page_error(t, authorize(idp, s, redirect_uri='https://other.example/cb'))
    page_error(t, authorize(idp, s, client_id='empty-client', redirect_uri='https://x/cb'))
    r = s.get(idp.url('/application/o/authorize/?client_id=%s&client_id=%s&redirect_uri=%s'
                      % (CF_ID, CF_ID, up.quote(CB, safe=''))), allow_redirects=False)
    page_error(t, r)
    r = s.get(idp.url('/application/o/authorize/?client_id=%zz'), allow_redirects=False)
    page_error(t, r)
    # the regex provider: anchored
    ok = authorize(idp, s, client_id='regex-client', redirect_uri='https://app.example.com/cb/1')
    t.eq(ok.status_code, 302)
    t.ok(ok.headers['Location'].startswith(LOGIN_PATH))
    for bad in ('https://evil.com/?https://app.example.com/cb',
                'https://app.example.com/cb/../../x', 'https://app.example.com.evil/cb',
                'https://app.example.com@evil/cb'):
        page_error(t, authorize(idp, s, client_id='regex-client', redirect_uri=bad))


@h.test
def authorize_redirect_errors(t):
    """Other errors go back to the registered redirect URI with error and state."""
    idp = IdP()
    s = requests.Session()

    def expect(error, **over):
        r = authorize(idp, s, **over)
        t.eq(r.status_code, 302, '%s: %s' % (error, r.text[:200]))
        loc = r.headers['Location']
        t.ok(loc.startswith(CB + '?'), loc)
        q = query_of(loc)
        t.eq(q.get('error'), error)
        t.ok(q.get('error_description'), 'no error_description')
        if 'state' in auth_params(**over):
            t.eq(q.get('state'), auth_params(**over)['state'])
        return q

    expect('unsupported_response_type', response_type='token')
    expect('unsupported_response_type', response_type='code id_token')
    expect('invalid_request', response_type=None)
    expect('invalid_scope', scope=None)
    expect('invalid_scope', scope='groups')
    expect('invalid_request', code_challenge='too-short')
    expect('invalid_request', code_challenge_method='S512')
    expect('invalid_request', prompt='none login')
    expect('invalid_request', max_age='-5')
    expect('invalid_request', response_mode='fragment')
    expect('request_not_supported', request='eyJhbGciOiJub25lIn0.e30.')
    r = s.get(idp.url('/application/o/authorize/'),
              params=list(auth_params().items()) + [('scope', 'openid')], allow_redirects=False)
    t.eq(query_of(r.headers['Location'])['error'], 'invalid_request')
    # public clients must use PKCE
    r = authorize(idp, s, client_id='spa', redirect_uri='https://spa.example/cb',
                  code_challenge=None, code_challenge_method=None)
    t.eq(query_of(r.headers['Location'])['error'], 'invalid_request')
    t.ok(r.headers['Location'].startswith('https://spa.example/cb?'))
    # unknown parameters are ignored
    r = authorize(idp, s, ui_locales='fr', foo='bar')
    t.eq(r.status_code, 302)
    t.ok(r.headers['Location'].startswith(LOGIN_PATH))
    # login_hint prefills the login form
    r = authorize(idp, s, login_hint='alice')
    f = login_form(t, idp, s, r.headers['Location'])
    t.eq(f['fields'].get('username'), 'alice')
    # POST works like GET; the login page brings the browser back with the same request
    r = s.post(idp.url('/application/o/authorize/'), data=auth_params(state='posted'),
               allow_redirects=False)
    t.eq(r.status_code, 302)
    r = follow_local(idp, s, log_in(t, idp, s, r.headers['Location']))
    t.ok(r.headers['Location'].startswith(CB + '?code='), r.headers['Location'])
    t.eq(query_of(r.headers['Location'])['state'], 'posted')
    r = s.post(idp.url('/application/o/authorize/'), data=auth_params(response_type='token'),
               allow_redirects=False)
    t.eq(query_of(r.headers['Location'])['error'], 'unsupported_response_type')


@h.test
def prompt_none(t):
    idp = IdP()
    s = requests.Session()
    r = authorize(idp, s, prompt='none')
    t.eq(r.status_code, 302)
    q = query_of(r.headers['Location'])
    t.ok(r.headers['Location'].startswith(CB + '?'))
    t.eq(q['error'], 'login_required')
    t.eq(q['state'], 'state-123')
    code_flow(t, idp, s)  # logs in
    code, q, _ = code_flow(t, idp, s, prompt='none')
    t.eq(exchange(idp, code).status_code, 200)
    # prompt=none where consent is needed
    r = authorize(idp, s, prompt='none', client_id='consent-client',
                  redirect_uri='https://consent.example/cb')
    t.eq(query_of(r.headers['Location'])['error'], 'consent_required')


@h.test
def max_age_and_prompt_login(t):
    idp = IdP()
    s = requests.Session()
    code, _, _ = code_flow(t, idp, s)
    _, c0 = verify(idp, exchange(idp, code).json()['id_token'])
    time.sleep(2.1)
    # a young enough session is fine
    code, _, _ = code_flow(t, idp, s, max_age='3600')
    # too old: the login page again, with prompt=login so that it asks even a signed-in user
    asked = int(time.time())
    r = authorize(idp, s, max_age='1')
    loc = r.headers['Location']
    t.ok(loc.startswith(LOGIN_PATH), loc)
    t.eq(query_of(loc).get('prompt'), 'login')
    # coming back without logging in again does not loop: login_required
    nxt = query_of(loc)['next']
    r = s.get(idp.url(nxt), allow_redirects=False)
    t.eq(query_of(r.headers['Location']).get('error'), 'login_required')
    # logging in again gives a code, and a fresh auth_time (max_age=0 and prompt=login alike)
    for over in ({'max_age': '1'}, {'max_age': '0'}, {'prompt': 'login'}):
        r = authorize(idp, s, **over)
        loc = r.headers['Location']
        t.ok(loc.startswith(LOGIN_PATH), '%r: %s' % (over, loc))
        r = follow_local(idp, s, log_in(t, idp, s, loc))
        t.ok(r.headers['Location'].startswith(CB + '?code='), r.headers['Location'])
        code = query_of(r.headers['Location'])['code']
        _, c = verify(idp, exchange(idp, code).json()['id_token'])
        t.ge(c['auth_time'], asked)
        t.ge(c['auth_time'], c0['auth_time'] + 2)


@h.test
def form_post_response_mode(t):
    idp = IdP()
    s = requests.Session()
    code_flow(t, idp, s)
    r = authorize(idp, s, response_mode='form_post')
    t.eq(r.status_code, 200)
    t.eq(r.headers.get('Location'), None)
    t.contains(r.headers['Content-Type'], 'text/html')
    csp = r.headers['Content-Security-Policy']
    t.ok("form-action 'self';" not in csp, csp)  # the form posts to the client
    t.contains(csp, "default-src 'none'")
    forms = Forms(r.text).forms
    t.eq(len(forms), 1)
    t.eq(html.unescape(forms[0]['action']), CB)
    f = forms[0]['fields']
    t.eq(f['state'], 'state-123')
    t.eq(f['iss'], idp.issuer())
    t.eq(exchange(idp, f['code']).status_code, 200)
    # errors too
    r = authorize(idp, s, response_mode='form_post', response_type='token')
    t.eq(r.status_code, 200)
    f = Forms(r.text).forms[0]['fields']
    t.eq(f['error'], 'unsupported_response_type')
    t.eq(f['state'], 'state-123')


@h.test
def explicit_consent(t):
    idp = IdP()
    s = requests.Session()
    consent = {'client_id': 'consent-client', 'redirect_uri': 'https://consent.example/cb'}
    r = authorize(idp, s, **consent)
    r = follow_local(idp, s, log_in(t, idp, s, r.headers['Location']))
    t.eq(r.status_code, 200)  # the consent page
    t.contains(r.text, 'Authorize')
    form = Forms(r.text).forms[0]
    t.ok(form['fields'].get('csrf_token'), 'consent form without csrf_token')
    t.eq(form['fields']['client_id'], 'consent-client')
    post = idp.url(html.unescape(form['action']))
    # without the CSRF token the decision is ignored: the page again
    data = dict(form['fields'])
    data.pop('csrf_token')
    r = s.post(post, data=dict(data, decision='allow'), allow_redirects=False)
    t.eq(r.status_code, 200)
    # deny
    r = s.post(post, data=dict(form['fields'], decision='deny'), allow_redirects=False)
    t.eq(r.status_code, 302)
    q = query_of(r.headers['Location'])
    t.eq(q['error'], 'access_denied')
    t.eq(q['state'], 'state-123')
    # allow
    r = s.post(post, data=dict(form['fields'], decision='allow'), allow_redirects=False)
    t.eq(r.status_code, 302)
    t.ok(r.headers['Location'].startswith('https://consent.example/cb?code='))
    # remembered: no page the next time, even with prompt=none
    r = authorize(idp, s, prompt='none', **consent)
    t.ok(r.headers['Location'].startswith('https://consent.example/cb?code='),
         r.headers.get('Location'))
    # prompt=consent asks again
    r = authorize(idp, s, prompt='consent', **consent)
    t.eq(r.status_code, 200)
    # another user's CSRF token is worthless
    s2 = requests.Session()
    r = authorize(idp, s2, **consent)
    r = follow_local(idp, s2, log_in(t, idp, s2, r.headers['Location'], username='bob'))
    t.eq(r.status_code, 200)
    r = s2.post(post, data=dict(form['fields'], decision='allow'), allow_redirects=False)
    t.eq(r.status_code, 200)  # alice's token: the page again, no code


@h.test
def application_policy(t):
    idp = IdP()
    s = requests.Session()
    admins = {'client_id': 'admins-client', 'redirect_uri': 'https://admins.example/cb'}
    r = authorize(idp, s, **admins)
    r = follow_local(idp, s, log_in(t, idp, s, r.headers['Location']))
    page_error(t, r, 403)
    t.contains(r.text, 'Permission denied')
    s2 = requests.Session()
    r = authorize(idp, s2, **admins)
    r = follow_local(idp, s2, log_in(t, idp, s2, r.headers['Location'], username='bob'))
    t.ok(r.headers.get('Location', '').startswith('https://admins.example/cb?code='),
         r.headers.get('Location'))


# ---- introspection, revocation, client credentials -------------------------------------------

@h.test
def introspect_and_revoke(t):
    idp = IdP()
    code, _, _ = code_flow(t, idp)
    b = exchange(idp, code).json()
    url = idp.url('/application/o/introspect/')
    r = requests.post(url, data={'token': b['access_token']}, auth=(CF_ID, CF_SECRET))
    t.eq(r.status_code, 200)
    i = r.json()
    t.eq(i['active'], True)
    t.eq(i['client_id'], CF_ID)
    t.eq(i['username'], 'alice')
    t.eq(i['token_type'], 'Bearer')
    t.eq(i['iss'], idp.issuer())
    t.eq(i['aud'], CF_ID)
    for k in ('scope', 'exp', 'iat', 'sub', 'jti'):
        t.ok(k in i, 'introspection without %s' % k)
    r = requests.post(url, data={'token': b['refresh_token']}, auth=(CF_ID, CF_SECRET))
    t.eq(r.json()['active'], True)
    t.eq(r.json()['token_type'], 'refresh_token')
    # another client sees nothing
    other = ('other-client', 'other-client-secret-0123456789')
    r = requests.post(url, data={'token': b['access_token']}, auth=other)
    t.eq(r.json(), {'active': False})
    r = requests.post(url, data={'token': 'garbage'}, auth=(CF_ID, CF_SECRET))
    t.eq(r.json(), {'active': False})
    r = requests.post(url, data={'token': b['access_token']})
    t.eq(r.status_code, 401)
    # revocation
    rev = idp.url('/application/o/revoke/')
    r = requests.post(rev, data={'token': b['refresh_token']}, auth=other)
    t.eq(r.status_code, 200)  # not theirs: nothing happens
    t.eq(userinfo(idp, b['access_token']).status_code, 200)
    r = requests.post(rev, data={'token': 'unknown-token'}, auth=(CF_ID, CF_SECRET))
    t.eq(r.status_code, 200)
    r = requests.post(rev, data={'token': b['refresh_token']})
    t.eq(r.status_code, 401)
    r = requests.post(rev, data={'token': b['refresh_token']}, auth=(CF_ID, CF_SECRET))
    t.eq(r.status_code, 200)
    # the family goes: the refresh token and the access token issued with it
    t.eq(userinfo(idp, b['access_token']).status_code, 401)
    r = token(idp, {'grant_type': 'refresh_token', 'refresh_token': b['refresh_token']})
    t.eq(r.json()['error'], 'invalid_grant')
    # an access token alone
    code, _, _ = code_flow(t, idp)
    b = exchange(idp, code).json()
    r = requests.post(rev, data={'token': b['access_token'], 'token_type_hint': 'access_token'},
                      auth=(CF_ID, CF_SECRET))
    t.eq(r.status_code, 200)
    t.eq(userinfo(idp, b['access_token']).status_code, 401)
    r = token(idp, {'grant_type': 'refresh_token', 'refresh_token': b['refresh_token']})
    t.eq(r.status_code, 200)


@h.test
def client_credentials(t):
    idp = IdP()
    r = token(idp, {'grant_type': 'client_credentials', 'scope': 'openid email'})
    t.eq(r.status_code, 200, r.text)
    no_store(t, r)
    b = r.json()
    t.ok('id_token' not in b and 'refresh_token' not in b, b)
    _, c = verify(idp, b['access_token'], typ='at+jwt')
    t.eq(c['sub'], CF_ID)
    t.eq(c['client_id'], CF_ID)
    r = requests.post(idp.url('/application/o/introspect/'), data={'token': b['access_token']},
                      auth=(CF_ID, CF_SECRET))
    t.eq(r.json()['active'], True)
    t.eq(r.json()['sub'], CF_ID)
    r = token(idp, {'grant_type': 'client_credentials', 'client_id': 'spa'}, auth=None)
    t.eq(r.json()['error'], 'unauthorized_client')


# ---- logout -----------------------------------------------------------------------------------

@h.test
def end_session(t):
    idp = IdP()
    s = requests.Session()
    code, _, _ = code_flow(t, idp, s)
    idt = exchange(idp, code).json()['id_token']
    es = idp.url('/application/o/cloudflare/end-session/')
    # an unregistered target: logged out, the page, no redirect
    r = s.get(es, params={'post_logout_redirect_uri': 'https://evil.example/'},
              allow_redirects=False)
    t.eq(r.status_code, 200)
    t.eq(r.headers.get('Location'), None)
    t.contains(r.headers.get('Set-Cookie', ''), 'postern_session=;')
    t.eq(query_of(authorize(idp, s, prompt='none').headers['Location'])['error'],
         'login_required')
    # a registered one, with an id_token_hint (expired or not: only signature and audience)
    code, _, _ = code_flow(t, idp, s)
    r = s.get(es, params={'post_logout_redirect_uri': LOGGED_OUT, 'state': 'bye',
                          'id_token_hint': idt}, allow_redirects=False)
    t.eq(r.status_code, 302)
    t.eq(r.headers['Location'], LOGGED_OUT + '?state=bye')
    t.eq(query_of(authorize(idp, s, prompt='none').headers['Location'])['error'],
         'login_required')
    # a hint of another application, or forged: refused
    r = s.get(idp.url('/application/o/other/end-session/'), params={'id_token_hint': idt},
              allow_redirects=False)
    page_error(t, r)
    r = s.get(es, params={'id_token_hint': idt[:-4] + 'AAAA'}, allow_redirects=False)
    page_error(t, r)
    r = s.get(idp.url('/application/o/nope/end-session/'), allow_redirects=False)
    t.eq(r.status_code, 404)
    # the redirect URI of another provider is not a logout target here
    r = s.get(es, params={'post_logout_redirect_uri': 'https://other.example/cb'},
              allow_redirects=False)
    t.eq(r.status_code, 200)


# ---- open redirects ---------------------------------------------------------------------------

def payloads():
    with open(h.vectors_dir('redirect', 'open-redirect.txt'), encoding='utf-8') as f:
        return [line.rstrip('\n') for line in f if line.rstrip('\n') != '']


@h.test
def open_redirect_payloads(t):
    """No payload of the list may be followed as redirect_uri (strict and regex providers) or
    as post_logout_redirect_uri."""
    idp = IdP()
    s = requests.Session()
    lines = payloads()
    t.ge(len(lines), 200)
    auth_url = idp.url('/application/o/authorize/')
    es = idp.url('/application/o/cloudflare/end-session/')
    failures = []
    for p in lines:
        for client, base in ((CF_ID, None), ('regex-client', None),
                             ('regex-client', 'https://app.example.com/cb')):
            uri = p if base is None else base + p
            q = auth_params(client_id=client, redirect_uri=uri)
            r = s.get(auth_url, params=q, allow_redirects=False)
            loc = r.headers.get('Location')
            if base is None:
                if r.status_code != 400 or loc is not None:
                    failures.append('redirect_uri %r (%s): %d %r' % (uri, client, r.status_code,
                                                                     loc))
            elif loc is not None and not loc.startswith(LOGIN_PATH):
                failures.append('redirect_uri %r: redirected to %r' % (uri, loc))
            elif r.status_code == 302:
                # accepted by the regex: the URI must stay on the registered origin and path
                parts = up.urlsplit(uri)
                if (parts.scheme, parts.netloc) != ('https', 'app.example.com') or \
                        not parts.path.startswith('/cb') or '\\' in uri or \
                        any(ord(ch) < 0x21 or ord(ch) > 0x7e for ch in uri):
                    failures.append('regex accepted %r' % uri)
        r = s.get(es, params={'post_logout_redirect_uri': p, 'state': 'x'}, allow_redirects=False)
        if r.headers.get('Location') is not None:
            failures.append('post_logout_redirect_uri %r: %r' % (p, r.headers['Location']))
    t.eq(failures[:10], [])
    t.note('%d payloads x 4 requests' % len(lines))


if __name__ == '__main__':
    h.main()
