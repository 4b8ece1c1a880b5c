"""Several Postern nodes on one PostgreSQL (issue 6 item 3), and the database going away
(item 1): real `postern serve` processes, each on its own port, with the same configuration
apart from the listen port, on a throwaway PostgreSQL server this file starts and stops
itself (tests/pgtmp.py).

The public URLs name a "load balancer" port that nobody listens on; the client picks the
node of each request (ROUTE below), as a load balancer would, so that a login can go through
one node and the next request to another with the same URLs and cookies:

    auth.localhost:LB   the IdP nodes            team.localhost:LB    the gateway nodes
    service.localhost:LB an application of the gateway, proxied to a small origin

The gateways' back-channel (token and JWKS requests, made by postern itself) goes to IdP node
1 by its real port; the ID tokens' issuer is the public one, configured as `issuer`.

Cases: two IdP nodes starting at once on an empty database share one signing key and one
server secret; a code from node 1 exchanged at node 2, refreshed there, replayed at node 1;
one code raced at both nodes; a gateway login on node 1 used on node 2, and its logout seen
by node 2; `postern access rotate-keys` picked up by both gateways; the database stopped
(503 where it is needed, service where it is not) and started again.
"""

import base64
import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import flows  # noqa: E402
import harness as h  # noqa: E402
import pgtmp  # noqa: E402
from flows import CHALLENGE, DEFAULT_KEY, LOGIN_PATH, ROUTE, VERIFIER  # noqa: E402

import requests  # noqa: E402
from jwcrypto import jwk, jwt  # noqa: E402

PASSWORD = 's3cret-pass'
CLIENT_ID = 'cf-client'
CLIENT_SECRET = 'cf-secret-0123456789'
GATE_RELOAD_S = 10  # src/access/gate_int.h
LOGOUT_BOUND_S = 30  # issue 6: a logout reaches every gateway node within 30 s
RECOVERY_S = 15  # service resumes this soon after the database is back
START_ROUNDS = 4  # simultaneous starts on an empty database

# ---- routing: host name -> the port of the node that gets the request ---------------------
# flows.ROUTE: (host, the load balancer's port) -> a node's port; a node's own port goes
# straight to it.

flows.localhost_is_loopback()


def session():
    """A browser-like client. Connection: close, so that no connection made for one node is
    reused after ROUTE sends the host to another."""
    s = requests.Session()
    s.headers['Connection'] = 'close'
    return s


# ---- the throwaway PostgreSQL server ----------------------------------------------------

def psql(url, sql):
    out = subprocess.run(['psql', url, '-At', '-v', 'ON_ERROR_STOP=1', '-c', sql],
                         capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise h.TestFailure('psql: %s' % out.stderr.strip())
    return out.stdout.strip()


class Pg:
    """Started in a directory of its own; stop() keeps the directory, so that start_again()
    brings the same data back on the same port."""

    def __init__(self, t):
        self.dir = h.tmpdir()
        os.rmdir(self.dir)  # pgtmp.start creates it, owned by postgres
        self.url = pgtmp.start(self.dir)
        self.port = int(self.url.rsplit(':', 1)[1].split('/')[0])
        t.defer(lambda: pgtmp.stop(self.dir))

    def _ctl(self, *args):
        data = os.path.join(self.dir, 'data')
        subprocess.run(pgtmp._as_owner([pgtmp.PG_BIN + '/pg_ctl', '-D', data] + list(args)),
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       timeout=60)

    def stop(self):
        self._ctl('-m', 'fast', '-w', 'stop')

    def start_again(self):
        # pgtmp.start's options, on the port and directory of the first start.
        opts = ('-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off '
                '-c synchronous_commit=off -c full_page_writes=off -c max_connections=300'
                % (self.port, self.dir))
        self._ctl('-l', os.path.join(self.dir, 'log'), '-w', '-o', opts, 'start')


# ---- an origin behind the gateway: says what it received -----------------------------------

def origin(t):
    """An origin that says what it received: the path, the token and the email."""
    o = flows.Origin(lambda req: {
        'path': req.path, 'token': req.headers.get('Cf-Access-Jwt-Assertion'),
        'email': req.headers.get('Cf-Access-Authenticated-User-Email')})
    t.defer(o.stop)
    return o


# ---- the installation ---------------------------------------------------------------------------

class Cluster:
    """A PostgreSQL server, the configuration, and the nodes started so far."""

    def __init__(self, t):
        self.t = t
        self.pg = Pg(t)
        self.store = self.pg.url  # the URL in the nodes' configuration
        self.lb = h.free_port()  # named in every public URL, listened on by nobody
        self.auth = 'http://auth.localhost:%d' % self.lb
        self.team = 'http://team.localhost:%d' % self.lb
        self.cb = self.team + '/cdn-cgi/access/callback'
        self.data_dir = os.path.join(h.tmpdir(), 'data')
        self.idps = []
        self.gates = []
        self.origin = None
        ROUTE.clear()
        t.defer(ROUTE.clear)

    def url(self, host, path='/'):
        return 'http://%s.localhost:%d%s' % (host, self.lb, path)

    def base(self, port):
        return {'server': {'listen': ['127.0.0.1:%d' % port], 'data_dir': self.data_dir,
                           'threads': 2},
                'log_level': 'info', 'store': self.store}

    def idp_config(self, port):
        cfg = self.base(port)
        cfg['idp'] = {'public_url': self.auth}
        cfg['users'] = [{'username': 'alice', 'name': 'Alice Example',
                         'email': 'alice@example.com', 'password': PASSWORD}]
        cfg['providers'] = [{
            'name': 'Cloudflare',
            'authorization_flow': 'default-provider-authorization-implicit-consent',
            'client_type': 'confidential', 'client_id': CLIENT_ID,
            'client_secret': CLIENT_SECRET,
            'redirect_uris': [{'matching_mode': 'strict', 'url': self.cb}],
            'signing_key': DEFAULT_KEY,
            'access_code_validity': 600}]  # outlives the database's absence in case 5
        cfg['applications'] = [{'name': 'Cloudflare', 'slug': 'cloudflare',
                                'provider': 'Cloudflare', 'policy_engine_mode': 'any'}]
        return cfg

    def gate_config(self, port):
        if self.origin is None:
            self.origin = origin(self.t)
        back = 'http://auth.localhost:%d' % self.idps[0].port  # IdP node 1, by its own port
        cfg = self.base(port)
        cfg['access'] = {
            'team_domain': self.team,
            'identity_providers': [{
                'name': 'Authentik', 'type': 'oidc', 'client_id': CLIENT_ID,
                'client_secret': CLIENT_SECRET,
                'auth_url': self.auth + '/application/o/authorize/',
                'token_url': back + '/application/o/token/',
                'certs_url': back + '/application/o/cloudflare/jwks/',
                'issuer': self.auth + '/application/o/cloudflare/'}],
            'applications': [{
                'name': 'myapp', 'domain': 'service.localhost',
                'origin': 'http://127.0.0.1:%d' % self.origin.port,
                'identity_providers': ['Authentik'], 'instant_auth': True,
                'policies': [{'name': 'allow', 'action': 'allow',
                              'include': [{'everyone': True}]}]}],
        }
        return cfg

    def _start(self, make, n, at_once):
        """n nodes, started at the same moment (at_once) or one after the other; returns them
        once all answer /healthz."""
        nodes = []
        for _ in range(n):
            nodes.append(h.start_postern(make(h.free_port()), ready=not at_once))
        for node in nodes:
            node.wait_ready()
        return nodes

    def start_idps(self, n=2, at_once=False):
        self.idps += self._start(self.idp_config, n, at_once)
        return self.idps

    def start_gates(self, n=2, at_once=False):
        self.gates += self._start(self.gate_config, n, at_once)
        return self.gates

    def via(self, idp=None, gate=None):
        """Sends the IdP's host to IdP node idp, the team and application hosts to gateway
        node gate (0-based)."""
        if idp is not None:
            ROUTE[('auth.localhost', self.lb)] = self.idps[idp].port
        if gate is not None:
            ROUTE[('team.localhost', self.lb)] = self.gates[gate].port
            ROUTE[('service.localhost', self.lb)] = self.gates[gate].port

    def fresh_schema(self, name):
        """From now on the nodes use an empty schema of their own (the same server)."""
        psql(self.pg.url, 'CREATE SCHEMA %s' % name)
        self.store = '%s?options=-csearch_path%%3D%s' % (self.pg.url, name)
        self.idps, self.gates = [], []

    def stop_all(self):
        """Stops the nodes (the harness checks for sanitizer reports only in the servers
        still running when a test ends: done here for these)."""
        for node in self.idps + self.gates:
            status = node.stop()
            report = h.sanitizer_report(node.log())
            self.t.ok(not report, 'sanitizer report:\n%s' % '\n'.join(report))
            self.t.eq(status, 0, 'exit status of %s' % node.name)

    def check_alive(self):
        for node in self.idps + self.gates:
            self.t.ok(node.alive(), 'a node exited:\n%s' % '\n'.join(node.log_tail()))


# ---- the IdP's login form and code flow ----------------------------------------------------------

def login_form(t, c, sess, next_path='/'):
    """The login page's form, fetched from the node auth.localhost is routed to."""
    r = sess.get(c.auth + LOGIN_PATH, params={'next': next_path}, allow_redirects=False)
    t.eq(r.status_code, 200, 'login page')
    forms = flows.Forms(r.text).forms
    t.eq(len(forms), 1, 'forms on the login page')
    return forms[0]


def post_login(c, sess, form):
    data = dict(form['fields'], username='alice', password=PASSWORD)
    return sess.post(urllib.parse.urljoin(c.auth + '/', form['action']), data=data,
                     allow_redirects=False)


def code_flow(t, c, sess, state='state-1'):
    """Authorize (logging in on the way when asked), following the IdP's own redirects;
    returns the code of the callback."""
    params = flows.auth_params(client_id=CLIENT_ID, redirect_uri=c.cb, state=state,
                               nonce='nonce-' + state)
    r = sess.get(c.auth + '/application/o/authorize/', params=params, allow_redirects=False)
    for _ in range(6):
        t.eq(r.status_code, 302, 'authorize: %s' % r.text[:200])
        loc = urllib.parse.urljoin(c.auth + '/', r.headers['Location'])
        if loc.startswith(c.cb + '?'):
            q = flows.query_of(loc)
            t.eq(q.get('state'), state)
            t.ok('code' in q, 'no code in %r' % loc)
            return q['code']
        if urllib.parse.urlsplit(loc).path == LOGIN_PATH:
            form = login_form(t, c, sess, flows.query_of(loc)['next'])
            r = post_login(c, sess, form)
            continue
        r = sess.get(loc, allow_redirects=False)
    raise h.TestFailure('no code after the login')


def token(c, data):
    return requests.post(c.auth + '/application/o/token/', data=data,
                         auth=(CLIENT_ID, CLIENT_SECRET), headers={'Connection': 'close'},
                         allow_redirects=False, timeout=10)


def exchange(c, code):
    return token(c, {'grant_type': 'authorization_code', 'code': code, 'redirect_uri': c.cb,
                     'code_verifier': VERIFIER})


def userinfo(c, access_token):
    return requests.get(c.auth + '/application/o/userinfo/',
                        headers={'Authorization': 'Bearer ' + access_token,
                                 'Connection': 'close'}, timeout=10)


def jwks(c, slug='cloudflare'):
    r = requests.get(c.auth + '/application/o/%s/jwks/' % slug, headers={'Connection': 'close'},
                     timeout=10)
    return r


def kid_of(token_z):
    head = token_z.split('.')[0]
    return json.loads(base64.urlsafe_b64decode(head + '=' * (-len(head) % 4)))['kid']


# ---- the gateway's login -------------------------------------------------------------------------

def gate_login(t, c, gate):
    """A fresh browser signs in to the application through gateway node gate; returns the
    session and the app token the origin received."""
    c.via(gate=gate)
    sess = session()
    r = flows.browse(t, sess, c.url('service', '/hello'), 'alice', PASSWORD)
    t.eq(r.status_code, 200, 'the origin after the login: %s' % r.text[:300])
    doc = r.json()
    t.eq(doc['email'], 'alice@example.com')
    t.ok(doc['token'], 'no Cf-Access-Jwt-Assertion')
    return sess, doc['token']


def certs_kids(c, gate):
    r = requests.get('http://team.localhost:%d/cdn-cgi/access/certs' % c.gates[gate].port,
                     headers={'Connection': 'close'}, timeout=10)
    if r.status_code != 200:
        return None
    return [k['kid'] for k in r.json()['keys']]


def verify_app_token(t, c, tok, gate):
    """The origin's check (Cloudflare's recipe): the key of the token's kid from the certs of
    gateway node gate, the signature, iss."""
    r = requests.get('http://team.localhost:%d/cdn-cgi/access/certs' % c.gates[gate].port,
                     headers={'Connection': 'close'}, timeout=10)
    t.eq(r.status_code, 200)
    claims = flows.app_token_claims(tok, r.json(), c.team)
    t.eq(claims['email'], 'alice@example.com')
    return claims


# ---- tests --------------------------------------------------------------------------------------

@h.test
def idp_nodes_starting_at_once_share_one_key_and_one_secret(t):
    c = Cluster(t)
    # Several rounds on empty schemas: a race between two starting nodes shows up only when
    # their steps interleave, which one round may not make them do.
    for round_ in range(START_ROUNDS):
        if round_ > 0:
            c.stop_all()
        c.fresh_schema('start%d' % round_)
        c.start_idps(2, at_once=True)
        t.eq(psql(c.store, "SELECT count(*) FROM certificate_keypairs WHERE name = '%s'"
                  % DEFAULT_KEY), '1', 'default signing keys in the store, round %d' % round_)
        t.eq(psql(c.store, 'SELECT count(*) FROM certificate_keypairs'), '1')
        t.eq(psql(c.store, 'SELECT count(*) FROM users'), '1')
    docs = []
    for i in range(2):
        c.via(idp=i)
        r = jwks(c)
        t.eq(r.status_code, 200, 'JWKS of node %d' % (i + 1))
        docs.append(sorted((k['kid'], k['n']) for k in r.json()['keys']))
    t.eq(len(docs[0]), 1, 'keys in the JWKS')
    t.eq(docs[0], docs[1], 'the two nodes publish different keys')
    kid = psql(c.store, "SELECT kid FROM certificate_keypairs WHERE name = '%s'" % DEFAULT_KEY)
    t.eq(docs[0][0][0], kid)
    # One server secret: node 1's login form (its CSRF token is an HMAC under the secret,
    # bound to node 1's pre-session cookie) is accepted by node 2...
    sess = session()
    c.via(idp=0)
    form = login_form(t, c, sess, '/done')
    c.via(idp=1)
    r = post_login(c, sess, form)
    t.eq(r.status_code, 302, 'node 2 refused node 1\'s login form: %s' % r.text[:300])
    t.eq(r.headers['Location'], '/done')
    t.ok(sess.cookies.get('postern_session'), 'no session cookie')
    # ...and the session it made is valid on node 1: straight on to next, no form.
    c.via(idp=0)
    r = sess.get(c.auth + LOGIN_PATH, params={'next': '/again'}, allow_redirects=False)
    t.eq(r.status_code, 302, 'node 1 does not know node 2\'s session')
    t.eq(r.headers['Location'], '/again')
    # A forged form token is refused by both (the check is real).
    for i in range(2):
        c.via(idp=i)
        bad = dict(form, fields=dict(form['fields'], csrf_token='x' + form['fields']
                                     ['csrf_token'][1:]))
        r = post_login(c, session(), bad)
        t.eq(r.status_code, 403, 'a forged CSRF token on node %d' % (i + 1))
    c.check_alive()


@h.test
def code_from_node_1_exchanged_and_refreshed_at_node_2_replayed_at_node_1(t):
    c = Cluster(t)
    c.start_idps(2)
    sess = session()
    c.via(idp=0)
    code = code_flow(t, c, sess)
    c.via(idp=1)
    r = exchange(c, code)
    t.eq(r.status_code, 200, 'exchange at node 2: %s' % r.text)
    first = r.json()
    # The ID token verifies with node 1's JWKS: one key for both.
    c.via(idp=0)
    keys = jwk.JWKSet.from_json(jwks(c).text)
    claims = json.loads(jwt.JWT(jwt=first['id_token'], key=keys,
                                check_claims={'iss': c.auth + '/application/o/cloudflare/',
                                              'exp': None}).claims)
    t.eq(claims['nonce'], 'nonce-state-1')
    t.eq(claims['aud'], CLIENT_ID)
    t.eq(userinfo(c, first['access_token']).status_code, 200, 'userinfo at node 1')
    # A refresh at node 2 rotates the refresh token.
    c.via(idp=1)
    r = token(c, {'grant_type': 'refresh_token', 'refresh_token': first['refresh_token']})
    t.eq(r.status_code, 200, 'refresh at node 2: %s' % r.text)
    second = r.json()
    t.ne(second['refresh_token'], first['refresh_token'])
    t.eq(userinfo(c, second['access_token']).status_code, 200)
    # The old refresh token at node 1: used already.
    c.via(idp=0)
    r = token(c, {'grant_type': 'refresh_token', 'refresh_token': first['refresh_token']})
    t.eq(r.status_code, 400)
    t.eq(r.json()['error'], 'invalid_grant')
    # A fresh grant, and its code replayed at node 1 after node 2 exchanged it.
    c.via(idp=0)
    code = code_flow(t, c, sess, state='state-2')
    c.via(idp=1)
    r = exchange(c, code)
    t.eq(r.status_code, 200)
    third = r.json()
    c.via(idp=0)
    r = exchange(c, code)
    t.eq(r.status_code, 400, 'replay at node 1: %s' % r.text)
    t.eq(r.json()['error'], 'invalid_grant')
    # RFC 6749 4.1.2: what the code issued is revoked, on every node.
    for i in range(2):
        c.via(idp=i)
        r = userinfo(c, third['access_token'])
        t.eq(r.status_code, 401, 'revoked access token at node %d' % (i + 1))
    c.via(idp=1)
    r = token(c, {'grant_type': 'refresh_token', 'refresh_token': third['refresh_token']})
    t.eq(r.json().get('error'), 'invalid_grant', 'revoked refresh token')
    c.check_alive()


@h.test
def one_code_raced_at_two_nodes_is_taken_once(t):
    c = Cluster(t)
    c.start_idps(2)
    sess = session()
    c.via(idp=0)
    for round_ in range(3):
        code = code_flow(t, c, sess, state='race-%d' % round_)
        results = [None, None]
        barrier = threading.Barrier(2)

        def run(i):
            url = 'http://127.0.0.1:%d/application/o/token/' % c.idps[i].port
            barrier.wait()
            results[i] = requests.post(
                url, data={'grant_type': 'authorization_code', 'code': code,
                           'redirect_uri': c.cb, 'code_verifier': VERIFIER},
                auth=(CLIENT_ID, CLIENT_SECRET), timeout=30,
                headers={'Host': 'auth.localhost:%d' % c.lb, 'Connection': 'close'})

        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        statuses = sorted(r.status_code for r in results)
        t.note('round %d: %r %r' % (round_, statuses, [r.text[:120] for r in results]))
        t.ok(statuses.count(200) <= 1, 'the code was exchanged twice')
        reused = [r for r in results if r.status_code == 400 and
                  'already used' in r.json().get('error_description', '')]
        t.eq(len(reused), 1, 'exactly one of the two must find the code used')
        # Whatever the winner got is revoked now (a replay happened).
        for r in results:
            if r.status_code == 200:
                t.eq(userinfo(c, r.json()['access_token']).status_code, 401)
    c.check_alive()


@h.test
def gateway_login_on_node_1_works_on_node_2_and_logout_reaches_it(t):
    c = Cluster(t)
    c.start_idps(2)
    c.start_gates(2, at_once=True)  # one gateway signing key, not two
    t.eq(psql(c.store, 'SELECT count(*) FROM access_keys WHERE retired_at = 0'), '1')
    t.eq(psql(c.store, "SELECT count(*) FROM certificate_keypairs "
                        "WHERE name LIKE 'postern gateway key %'"), '1', 'orphan gateway keys')
    t.eq(certs_kids(c, 0), certs_kids(c, 1), 'the nodes publish different keys')
    c.via(idp=1)  # the browser logs in at IdP node 2; the gateway's back-channel is node 1
    sess, tok = gate_login(t, c, gate=0)
    verify_app_token(t, c, tok, gate=1)
    stolen = flows.app_cookie(sess, 'service.localhost')
    t.ok(stolen, 'no app cookie')
    # The app cookie made by node 1 opens the application on node 2.
    c.via(gate=1)
    r = sess.get(c.url('service', '/on-node-2'), allow_redirects=False)
    t.eq(r.status_code, 200, 'node 2 refused node 1\'s app cookie')
    t.eq(r.json()['path'], '/on-node-2')
    port2 = c.gates[1].port

    def on_node_2():
        return requests.get('http://service.localhost:%d/' % port2, allow_redirects=False,
                            cookies={'CF_Authorization': stolen},
                            headers={'Connection': 'close'}).status_code

    t.eq(on_node_2(), 200, 'a copy of the cookie, before the logout')
    # Logout through node 1; the copy must stop working on node 2.
    c.via(gate=0)
    r = flows.browse(t, sess, c.url('service', '/cdn-cgi/access/logout'), 'alice', PASSWORD)
    t.eq(r.status_code, 200)
    t.contains(r.text.lower(), 'logged out')
    r = requests.get('http://service.localhost:%d/' % c.gates[0].port,
                     cookies={'CF_Authorization': stolen}, allow_redirects=False)
    t.eq(r.status_code, 302, 'node 1 still serves its own logged-out session')
    started = time.monotonic()
    t.ok(h.wait_until(lambda: on_node_2() == 302, timeout=LOGOUT_BOUND_S + 2, step=0.25),
         'node 2 still accepts the cookie %d s after the logout' % LOGOUT_BOUND_S)
    took = time.monotonic() - started
    print('# the logout through node 1 reached node 2 after %.1f s' % took, flush=True)
    t.le(took, LOGOUT_BOUND_S)
    c.check_alive()


@h.test
def rotated_gateway_key_is_used_by_both_nodes(t):
    c = Cluster(t)
    c.start_idps(1)
    c.start_gates(2)
    c.via(idp=0)
    old = certs_kids(c, 0)
    t.eq(len(old), 1)
    cfg_path = h.write_config(c.gate_config(h.free_port()))
    out = subprocess.run([h.postern_bin(), 'access', 'rotate-keys', '--config', cfg_path],
                         capture_output=True, text=True, timeout=60)
    t.eq(out.returncode, 0, 'rotate-keys: %s' % out.stderr)
    new = psql(c.store, 'SELECT k.kid FROM access_keys a JOIN certificate_keypairs k '
                         'ON k.name = a.keypair_name WHERE a.retired_at = 0')
    t.ne(new, old[0])
    t.contains(out.stdout, new)
    started = time.monotonic()
    for i in range(2):
        t.ok(h.wait_until(lambda: new in (certs_kids(c, i) or []),
                          timeout=GATE_RELOAD_S * 2 + 5, step=0.25),
             'node %d does not publish the new key' % (i + 1))
        t.ok(old[0] in certs_kids(c, i), 'the previous key left the certs during its grace')
    print('# both gateway nodes published the new key after %.1f s'
          % (time.monotonic() - started), flush=True)
    for i in range(2):
        sess, tok = gate_login(t, c, gate=i)
        t.eq(kid_of(tok), new, 'node %d signs with the old key' % (i + 1))
        verify_app_token(t, c, tok, gate=1 - i)
    c.check_alive()


@h.test
def database_down_then_back(t):
    c = Cluster(t)
    c.start_idps(2)
    c.start_gates(2)
    # Before: a signed-in browser at the application, a login form, an unused code, and the
    # public documents (cached by each node).
    c.via(idp=0)
    sess, tok = gate_login(t, c, gate=0)
    idp_sess = session()
    r = exchange(c, code_flow(t, c, idp_sess, state='tokens'))
    t.eq(r.status_code, 200)
    tokens = r.json()
    code = code_flow(t, c, idp_sess, state='before')
    form_sess = session()
    form = login_form(t, c, form_sess, '/after')
    docs = {}
    for i in range(2):
        c.via(idp=i)
        docs[i] = jwks(c).json()
    c.pg.stop()
    down_at = time.monotonic()
    # The application, with a valid app token: verified in memory, proxied (both nodes).
    for g in range(2):
        c.via(gate=g)
        r = sess.get(c.url('service', '/while-down'), allow_redirects=False, timeout=10)
        t.eq(r.status_code, 200, 'app request on gateway %d while the database is down: %s'
             % (g + 1, r.text[:200]))
        t.eq(r.json()['path'], '/while-down')
        t.ok(certs_kids(c, g), 'certs of gateway %d while the database is down' % (g + 1))
    # The IdP's JWKS: from memory.
    for i in range(2):
        c.via(idp=i)
        r = jwks(c)
        t.eq(r.status_code, 200, 'JWKS of node %d while down' % (i + 1))
        t.eq(r.json(), docs[i])
    # The login form's POST: the readable 503 page, with Retry-After.
    c.via(idp=1)
    r = post_login(c, form_sess, form)
    t.eq(r.status_code, 503, 'login POST while down: %s' % r.text[:300])
    t.eq(r.headers.get('Retry-After'), '5')
    t.contains(r.text, 'Temporarily unavailable')
    t.contains(r.text, 'cannot reach its database')
    # The token endpoint: temporarily_unavailable JSON, with Retry-After.
    r = exchange(c, code)
    t.eq(r.status_code, 503, 'token endpoint while down: %s' % r.text[:300])
    t.eq(r.headers.get('Retry-After'), '5')
    t.eq(r.json()['error'], 'temporarily_unavailable')
    t.ok(r.json().get('error_description'), 'no error_description')
    t.eq(r.headers.get('Cache-Control'), 'no-store')
    # The other OAuth endpoints that need the store: the same JSON answer.
    answers = {
        'userinfo': userinfo(c, tokens['access_token']),
        'introspect': requests.post(c.auth + '/application/o/introspect/',
                                    data={'token': tokens['access_token']},
                                    auth=(CLIENT_ID, CLIENT_SECRET), timeout=10),
        'revoke': requests.post(c.auth + '/application/o/revoke/',
                                data={'token': tokens['refresh_token']},
                                auth=(CLIENT_ID, CLIENT_SECRET), timeout=10),
    }
    for name, r in answers.items():
        t.eq(r.status_code, 503, '%s while down: %s' % (name, r.text[:300]))
        t.eq(r.headers.get('Retry-After'), '5', name)
        t.eq(r.json()['error'], 'temporarily_unavailable', name)
    # The authorization endpoint, before it trusts the redirect URI: the page, no redirect.
    r = idp_sess.get(c.auth + '/application/o/authorize/', allow_redirects=False, timeout=10,
                     params={'client_id': CLIENT_ID, 'redirect_uri': c.cb,
                             'response_type': 'code', 'scope': 'openid', 'state': 's',
                             'code_challenge': CHALLENGE, 'code_challenge_method': 'S256'})
    t.eq(r.status_code, 503, 'authorize while down: %s' % r.text[:300])
    t.contains(r.text, 'Temporarily unavailable')
    t.eq(r.headers.get('Retry-After'), '5')
    # A gateway login needs the store: the 503 page, not a crash or a 500.
    fresh = session()
    c.via(gate=1)
    r = fresh.get(c.url('team', '/cdn-cgi/access/login/service.localhost'),
                  params={'redirect_url': '/'}, allow_redirects=False, timeout=10)
    t.eq(r.status_code, 503, 'gateway login while down: %s' % r.text[:300])
    t.eq(r.headers.get('Retry-After'), '5')
    # A logout cannot reach the other nodes now: 503, and the cookie stays for a retry.
    c.via(gate=1)
    r = sess.get(c.url('service', '/cdn-cgi/access/logout'), allow_redirects=False, timeout=10)
    t.eq(r.status_code, 503, 'logout while down: %s' % r.text[:300])
    t.eq(r.headers.get('Retry-After'), '5')
    t.ok('CF_Authorization' not in r.headers.get('Set-Cookie', ''), 'the cookie was cleared')
    for node in c.idps[1:2] + c.gates[1:2]:
        t.ok(h.wait_until(lambda: 'store unavailable: ' in node.log(), timeout=5),
             'no "store unavailable" line in the log of %s' % node.name)
    t.note('down for %.1f s' % (time.monotonic() - down_at))
    c.check_alive()
    # Back: service resumes without restarting postern. A connection that the server closed
    # is found broken by its next statement, so a request may still meet a 503 (each worker's
    # connection once) before its store reconnects: clients retry, as Retry-After asks.
    c.pg.start_again()
    back_at = time.monotonic()
    retries = {'token': 0, 'login': 0, 'gateway': 0}

    def token_ok():
        r = exchange(c, code)
        if r.status_code == 503:
            retries['token'] += 1
            return False
        t.eq(r.status_code, 200, 'token endpoint after the database came back: %s' % r.text)
        return True

    t.ok(h.wait_until(token_ok, timeout=RECOVERY_S, step=0.2), 'the token endpoint did not '
         'recover within %d s' % RECOVERY_S)
    # The code that met the 503 was not used up by it: it was exchanged once, just now.
    token_s = time.monotonic() - back_at

    def login_ok():
        r = post_login(c, form_sess, form)
        if r.status_code == 503:
            retries['login'] += 1
            return False
        t.eq(r.status_code, 302, 'login after the database came back: %s' % r.text[:300])
        t.eq(r.headers['Location'], '/after')
        return True

    t.ok(h.wait_until(login_ok, timeout=RECOVERY_S, step=0.2), 'the login did not recover')
    for g in range(2):
        def gate_ok():
            c.via(gate=g)
            r = flows.browse(t, session(), c.url('service', '/back'), 'alice', PASSWORD)
            if r.status_code in (502, 503):
                # 502: the gateway's own token request met one of the IdP's 503s
                retries['gateway'] += 1
                return False
            t.eq(r.status_code, 200, 'gateway %d after the database came back: %s'
                 % (g + 1, r.text[:300]))
            verify_app_token(t, c, r.json()['token'], gate=1 - g)
            return True

        t.ok(h.wait_until(gate_ok, timeout=RECOVERY_S, step=0.2),
             'gateway %d did not recover' % (g + 1))
    # The logout tried again, now that the store answers.
    c.via(gate=1)
    got = []

    def logout_ok():
        got.append(flows.browse(t, sess, c.url('service', '/cdn-cgi/access/logout'), 'alice',
                                PASSWORD))
        return got[-1].status_code != 503

    t.ok(h.wait_until(logout_ok, timeout=RECOVERY_S, step=0.2), 'the logout did not recover')
    r = got[-1]
    t.eq(r.status_code, 200, 'logout after the database came back: %s' % r.text[:300])
    t.contains(r.text.lower(), 'logged out')
    print('# after the database came back: token endpoint answering after %.1f s; 503s met '
          'meanwhile (stale connections): %r' % (token_s, retries), flush=True)
    c.check_alive()


if __name__ == '__main__':
    if not pgtmp.available():
        print('1..0 # SKIP PostgreSQL 15 is not installed (%s)' % pgtmp.PG_BIN)
        sys.exit(0)
    h.main()
