"""Moving up (issue 6, item 4): `postern migrate`, and `postern store export` / `import` from
SQLite to PostgreSQL and back without loss. A SQLite store is filled the way an operator does
(`postern apply` with every kind of object, a password set with `user passwd`, a service token,
two gateway key rotations, a deleted user whose binding must keep matching nobody), exported,
imported into a new PostgreSQL database, exported again and compared object by object, then
imported into a new SQLite file and compared again. A server on the PostgreSQL store then
logs the user in with the moved password hash, gives the same `sub` as before the move, and
lets the moved service token through the gateway. Bad input (a non-empty target, a truncated
file, another version, a missing field, a reference to a missing object) writes nothing.

PostgreSQL: the server of POSTERN_TEST_PG (tests/run.py starts one), else one this test
starts with tests/pgtmp.py; each test gets its own database."""

import atexit
import base64
import copy
import json
import os
import sqlite3
import stat
import subprocess
import sys
import tempfile
import urllib.parse as up

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import flows  # noqa: E402
import harness as h  # noqa: E402
from flows import CF_ID, CF_SECRET  # noqa: E402

import requests  # noqa: E402

PASSWORD = 'moved-pass-0123'
SECTIONS = ['meta', 'groups', 'users', 'certificate_keypairs', 'providers', 'applications',
            'access_identity_providers', 'access_applications', 'service_tokens', 'access_keys']
KEY_OF = {'groups': 'name', 'users': 'username', 'certificate_keypairs': 'name',
          'providers': 'name', 'applications': 'slug', 'access_identity_providers': 'name',
          'access_applications': 'name', 'service_tokens': 'name', 'access_keys': 'keypair'}

flows.localhost_is_loopback()


# ---- PostgreSQL -----------------------------------------------------------------------------

_pg = {}


def pg_server():
    """The URL of a PostgreSQL server: POSTERN_TEST_PG, or one started for this file."""
    if 'url' not in _pg:
        url = os.environ.get('POSTERN_TEST_PG')
        if not url:
            sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
            import pgtmp
            d = tempfile.mkdtemp(prefix='postern-pg-')
            atexit.register(pgtmp.stop, d)
            url = pgtmp.start(d)
        _pg['url'] = url
        _pg['n'] = 0
    return _pg['url']


def fresh_pg():
    """A new, empty database on the server (its URL)."""
    base = pg_server()
    _pg['n'] += 1
    name = 'store_move_%d_%d' % (os.getpid(), _pg['n'])
    p = subprocess.run(['psql', base, '-qc', 'CREATE DATABASE %s' % name], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    u = up.urlsplit(base)
    return up.urlunsplit((u.scheme, u.netloc, '/' + name, u.query, u.fragment))


# ---- commands -------------------------------------------------------------------------------

def pst(t, *args, stdin=None):
    p = subprocess.run([h.postern_bin()] + list(args), input=stdin, capture_output=True,
                       timeout=120, text=True)
    report = h.sanitizer_report(p.stderr)
    if report:
        t.fail('sanitizer report from postern %s:\n%s' % (' '.join(args), '\n'.join(report)))
    return p.returncode, p.stdout, p.stderr


def ok(t, *args, stdin=None):
    rc, out, err = pst(t, *args, stdin=stdin)
    t.eq(rc, 0, 'postern %s: %s' % (' '.join(args[:3]), err))
    return out, err


def export(t, store, path):
    """Exports store (a URL) to path; returns the document and its bytes."""
    out, err = ok(t, 'store', 'export', '--store', store, '--output', path)
    t.contains(err, 'private keys')
    t.eq(stat.S_IMODE(os.stat(path).st_mode), 0o600, 'mode of the export')
    with open(path, 'rb') as f:
        raw = f.read()
    return json.loads(raw), raw


def first_difference(a, b, where='objects'):
    """The first difference between two documents, object by object (None when equal)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            if k not in a or k not in b:
                return '%s.%s: only in the %s export' % (where, k, 'first' if k in a else
                                                         'second')
            d = first_difference(a[k], b[k], '%s.%s' % (where, k))
            if d:
                return d
        if list(a) != list(b):
            return '%s: keys in another order: %r vs %r' % (where, list(a), list(b))
        return None
    if isinstance(a, list) and isinstance(b, list):
        for i in range(max(len(a), len(b))):
            if i >= len(a) or i >= len(b):
                return '%s[%d]: only in the %s export' % (where, i, 'first' if i < len(a) else
                                                          'second')
            d = first_difference(a[i], b[i], '%s[%d]' % (where, i))
            if d:
                return d
        return None
    return None if a == b and type(a) is type(b) else '%s: %r != %r' % (where, a, b)


def same(t, a, b, what):
    """Both exports hold the same objects, section by section, named in the message."""
    for s in SECTIONS:
        x, y = a['objects'][s], b['objects'][s]
        if s != 'meta':
            x = {o[KEY_OF[s]]: o for o in x}
            y = {o[KEY_OF[s]]: o for o in y}
        d = first_difference(x, y, 'objects.' + s)
        t.ok(d is None, '%s: first difference: %s' % (what, d))
    d = first_difference(a, b, '')
    t.ok(d is None, '%s: first difference: %s' % (what, d))


def empty(t, store, what):
    """The store holds no object of an export (nothing was written)."""
    d = h.tmpdir()
    doc, _ = export(t, store, os.path.join(d, 'empty.json'))
    for s in SECTIONS:
        t.eq(len(doc['objects'][s]), 0, '%s: objects.%s after a refused import' % (what, s))


# ---- the installation ------------------------------------------------------------------------

def objects(port, origin_port):
    """Every kind of object `postern apply` makes, for a server on port."""
    auth, team = 'http://auth.localhost:%d' % port, 'http://team.localhost:%d' % port
    origin = 'http://127.0.0.1:%d' % origin_port
    allow = [{'name': 'allow', 'action': 'allow', 'include': [{'everyone': True}]}]
    return {
        'groups': [{'name': 'staff'}, {'name': 'admins', 'attributes': {'level': 3}}],
        'users': [
            {'username': 'alice', 'name': 'Alice Example', 'email': 'Alice@Example.com',
             'groups': ['staff', 'admins'], 'attributes': {'desk': 'B12', 'n': 1.5}},
            {'username': 'bob', 'email': 'bob@example.com'},
            {'username': 'carol', 'is_active': False, 'groups': ['staff']},
        ],
        'certificate_keypairs': [{'name': 'ec signing', 'algorithm': 'ES256'}],
        'providers': [
            {'name': 'Cloudflare', 'client_type': 'confidential', 'client_id': CF_ID,
             'client_secret': CF_SECRET, 'signing_key': 'postern Self-signed Certificate',
             'redirect_uris': [{'matching_mode': 'strict',
                                'url': team + '/cdn-cgi/access/callback'}]},
            {'name': 'Generated', 'signing_key': 'ec signing', 'sub_mode': 'user_uuid',
             'access_token_validity': 600, 'include_claims_in_id_token': False,
             'redirect_uris': [{'matching_mode': 'regex',
                                'url': 'https://app\\.example\\.com/cb/[0-9]+'}]},
            {'name': 'Legacy', 'sub_mode': 'user_id', 'client_type': 'public',
             'redirect_uris': [{'matching_mode': 'strict', 'url': 'http://127.0.0.1:1/cb'}]},
        ],
        'applications': [
            {'name': 'Cloudflare', 'slug': 'cloudflare', 'provider': 'Cloudflare'},
            {'name': 'Staff only', 'slug': 'staff-app', 'provider': 'Generated',
             'policy_engine_mode': 'all', 'meta_launch_url': 'https://app.example.com/',
             'bindings': [{'group': 'staff'}, {'user': 'bob', 'negate': True},
                          {'user': 'alice', 'enabled': False}]},
            {'name': 'Bob only', 'slug': 'bob-only', 'bindings': [{'user': 'bob'}]},
        ],
        'access': {
            'team_domain': team,
            'identity_providers': [
                {'name': 'Authentik', 'type': 'oidc', 'client_id': CF_ID,
                 'client_secret': CF_SECRET,
                 'auth_url': auth + '/application/o/authorize/',
                 'token_url': auth + '/application/o/token/',
                 'certs_url': auth + '/application/o/cloudflare/jwks/', 'claims': ['groups']},
                {'name': 'Spare', 'type': 'oidc', 'client_id': 'spare', 'client_secret': 'x' * 20,
                 'auth_url': auth + '/application/o/authorize/',
                 'token_url': auth + '/application/o/token/',
                 'certs_url': auth + '/application/o/cloudflare/jwks/'}],
            'applications': [
                {'name': 'myapp', 'domain': 'service.localhost', 'origin': origin,
                 'identity_providers': ['Authentik'], 'instant_auth': True, 'policies': allow},
                {'name': 'machines', 'domain': 'api.localhost', 'origin': origin,
                 'identity_providers': ['Authentik'],
                 'policies': [{'name': 'robots', 'action': 'service_auth',
                               'include': [{'any_service_token': True}]}]},
            ],
        },
    }


def config(store, port, objs):
    """The configuration of a server on store (a URL) with the IdP and the gateway: the
    `access:` section is the objects' (applying it again at start changes nothing)."""
    cfg = h.postern_config(port)
    cfg['store'] = store
    cfg['idp'] = {'public_url': 'http://auth.localhost:%d' % port}
    cfg['access'] = objs['access']
    return cfg


def populate(t):
    """A SQLite store filled by the CLI. Returns (dir, store URL, port, objects, secrets)."""
    d = h.tmpdir()
    port = h.free_port()
    origin = flows.Origin()  # answers 200 with the path it got
    t.defer(origin.stop)
    objs = objects(port, origin.port)
    db = os.path.join(d, 'source.db')
    cfg = h.write_config(config('sqlite:' + db, port, objs), d)
    path = os.path.join(d, 'objects.yaml')
    with open(path, 'w') as f:
        f.write(h.to_yaml(objs))
    ok(t, 'apply', '--config', cfg, path)
    ok(t, 'user', 'passwd', 'alice', '--config', cfg, stdin=PASSWORD + '\n')
    out, _ = ok(t, 'access', 'service-token', 'add', 'robot', '--config', cfg)
    tok = {l.split(':', 1)[0]: l.split(':', 1)[1].strip() for l in out.splitlines()
           if l.startswith('CF-Access-Client-')}
    ok(t, 'access', 'service-token', 'add', 'expiring', '--duration', '2m', '--config', cfg)
    ok(t, 'access', 'rotate-keys', '--grace', '3d', '--config', cfg)
    ok(t, 'access', 'rotate-keys', '--grace', '12h', '--config', cfg)
    ok(t, 'user', 'del', 'bob', '--config', cfg)  # its bindings now match nobody
    return d, 'sqlite:' + db, port, objs, tok


# ---- what a server on the moved store does ----------------------------------------------------

def login_sub(t, port):
    """The OIDC code flow of the Cloudflare provider, logging in as alice: the id_token's sub."""
    idp = 'http://auth.localhost:%d' % port
    cb = 'http://team.localhost:%d/cdn-cgi/access/callback' % port
    sess = requests.Session()
    r = sess.get(idp + '/application/o/authorize/', allow_redirects=False, timeout=10,
                 params={'client_id': CF_ID, 'redirect_uri': cb, 'response_type': 'code',
                         'scope': 'openid email', 'state': 's', 'nonce': 'n'})
    t.eq(r.status_code, 302, 'authorize')
    page = sess.get(up.urljoin(idp, r.headers['Location']), timeout=10)
    t.eq(page.status_code, 200, 'login page')
    form = flows.Forms(page.text).forms[0]
    r = sess.post(up.urljoin(page.url, form['action']), allow_redirects=False, timeout=30,
                  data=dict(form['fields'], username='alice', password=PASSWORD))
    t.eq(r.status_code, 302, 'login with the moved password hash: %s' % r.text[:300])
    for _ in range(5):
        loc = r.headers['Location']
        if loc.startswith(cb):
            break
        r = sess.get(up.urljoin(idp, loc), allow_redirects=False, timeout=10)
    code = dict(up.parse_qsl(up.urlsplit(r.headers['Location']).query))['code']
    r = requests.post(idp + '/application/o/token/', auth=(CF_ID, CF_SECRET), timeout=10,
                      data={'grant_type': 'authorization_code', 'code': code, 'redirect_uri': cb})
    t.eq(r.status_code, 200, 'token exchange with the moved client secret: %s' % r.text)
    payload = r.json()['id_token'].split('.')[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + '=' * (-len(payload) % 4)))
    return claims['sub']


def service_token_passes(t, port, tok):
    r = requests.get('http://api.localhost:%d/v1' % port, headers=tok, allow_redirects=False,
                     timeout=10)
    t.eq(r.status_code, 200, 'the moved service token at the gateway: %s' % r.text[:200])
    bad = dict(tok, **{'CF-Access-Client-Secret': '0' * 64})
    r = requests.get('http://api.localhost:%d/v1' % port, headers=bad, allow_redirects=False,
                     timeout=10)
    t.eq(r.status_code, 401, 'a wrong secret')


def serve(store, port, objs):
    return h.start_postern(config(store, port, objs))


# ---- tests ----------------------------------------------------------------------------------

@h.test
def sqlite_to_postgresql_and_back_without_loss(t):
    d, source, port, objs, tok = populate(t)
    srv = serve(source, port, objs)
    sub_before = login_sub(t, port)
    srv.stop()
    a, a_raw = export(t, source, os.path.join(d, 'a.json'))
    o = a['objects']
    t.eq(a['format'], 'postern-store-export')
    t.eq(a['version'], 1)
    t.eq([u['username'] for u in o['users']], ['alice', 'carol'])
    alice = o['users'][0]
    t.ok(alice['password_hash'].startswith('$argon2id$'), alice['password_hash'])
    t.eq(alice['groups'], ['admins', 'staff'])
    t.ok(all(isinstance(u['id'], int) and u['id'] > 0 for u in o['users']),
         'every user keeps its id (the sub of sub_mode user_id)')
    t.eq([a['slug'] for a in o['applications']], ['bob-only', 'cloudflare', 'staff-app'])
    t.eq([b.get('orphaned') for b in o['applications'][0]['bindings']], [True])
    t.eq(o['applications'][2]['bindings'][1], {'order': 1, 'orphaned': True, 'negate': True,
                                               'enabled': True})
    t.eq([k['current'] for k in o['access_keys']], [True, False, False])
    t.eq([s['name'] for s in o['service_tokens']], ['expiring', 'robot'])
    t.eq(sorted(o['meta']), ['access.team_domain', 'idp.secret'])
    # SQLite -> PostgreSQL: the same document back.
    pg = fresh_pg()
    out, _ = ok(t, 'migrate', '--store', pg)
    t.contains(out, 'schema version 0')
    out, err = ok(t, 'store', 'import', '--store', pg, '--input', os.path.join(d, 'a.json'))
    t.contains(out, '2 users')
    t.ok('warning' not in err, err)
    t.contains(out, '3 gateway signing keys')
    t.contains(out, 'not moved: sessions')
    b, b_raw = export(t, pg, os.path.join(d, 'b.json'))
    same(t, a, b, 'SQLite -> PostgreSQL')
    t.eq(b_raw, a_raw, 'the two exports differ byte by byte')
    # PostgreSQL -> a new SQLite file (from standard input), and compared again.
    back = 'sqlite:' + os.path.join(d, 'back.db')
    ok(t, 'store', 'import', '--store', back, stdin=b_raw.decode())
    c, c_raw = export(t, back, os.path.join(d, 'c.json'))
    same(t, a, c, 'PostgreSQL -> SQLite')
    t.eq(c_raw, a_raw)
    # A server on the PostgreSQL store: the moved hash logs alice in, her sub is the same, the
    # moved digest lets the service token in, and nothing was added by starting it.
    srv = serve(pg, port, objs)
    t.eq(login_sub(t, port), sub_before, 'sub after the move')
    service_token_passes(t, port, {'CF-Access-Client-Id': tok['CF-Access-Client-Id'],
                                   'CF-Access-Client-Secret': tok['CF-Access-Client-Secret']})
    srv.stop()
    after, _ = export(t, pg, os.path.join(d, 'after.json'))
    same(t, a, after, 'after a server ran on the moved store')


def refused(t, store, path, *needles):
    rc, out, err = pst(t, 'store', 'import', '--store', store, '--input', path)
    t.eq(rc, 1, 'import of %s: %s' % (os.path.basename(path), err))
    t.contains(err, 'nothing imported')
    for n in needles:
        t.contains(err, n)
    t.ok('Traceback' not in err and 'Sanitizer' not in err, err)


def variant(d, doc, name, change):
    bad = copy.deepcopy(doc)
    change(bad['objects'] if isinstance(bad, dict) and 'objects' in bad else bad)
    path = os.path.join(d, name + '.json')
    with open(path, 'w') as f:
        json.dump(bad, f)
    return path


@h.test
def bad_input_writes_nothing(t):
    d, source, _, _, _ = populate(t)
    a, raw = export(t, source, os.path.join(d, 'a.json'))
    truncated = os.path.join(d, 'truncated.json')
    with open(truncated, 'wb') as f:
        f.write(raw[:len(raw) // 2])
    wrong_version = os.path.join(d, 'v2.json')
    with open(wrong_version, 'w') as f:
        json.dump(dict(a, version=2), f)
    wrong_format = os.path.join(d, 'format.json')
    with open(wrong_format, 'w') as f:
        json.dump(dict(a, format='something-else'), f)
    cases = [
        (truncated, ['not a JSON document']),
        (wrong_version, ['version: 2 is not a version this postern reads']),
        (wrong_format, ['format: expected "postern-store-export"']),
        (variant(d, a, 'no-uuid', lambda o: o['users'][0].pop('uuid')),
         ['objects.users[0] ("alice").uuid: missing']),
        (variant(d, a, 'no-group', lambda o: o['groups'].pop(1)),  # staff
         ['objects.users[0] ("alice").groups[1]: no group "staff" in objects.groups']),
        (variant(d, a, 'no-provider', lambda o: o['providers'].pop(0)),
         ['objects.applications[1] ("cloudflare").provider: no provider "Cloudflare"']),
        (variant(d, a, 'bad-kid', lambda o: o['certificate_keypairs'][0].update(kid='x')),
         ['objects.certificate_keypairs[0] ("ec signing").kid: not the thumbprint']),
        (variant(d, a, 'dup-user', lambda o: o['users'].append(dict(o['users'][0]))),
         ['objects.users[2] ("alice")']),
        (variant(d, a, 'no-aud', lambda o: o['access_applications'][0].update(aud='')),
         ['objects.access_applications[0] ("machines").aud']),
        (variant(d, a, 'bad-digest', lambda o: o['service_tokens'][0].update(secret_hash='AB')),
         ['objects.service_tokens[0] ("expiring")', 'secret_hash']),
        # The last section refers to a key pair the document lacks: everything written
        # before it (users, providers, applications...) must be rolled back.
        (variant(d, a, 'late', lambda o: o['access_keys'][0].update(keypair='gone')),
         ['objects.access_keys[0].keypair: no certificate-key pair "gone"']),
    ]
    for i, (path, needles) in enumerate(cases):
        target = 'sqlite:' + os.path.join(d, 'target%d.db' % i)
        refused(t, target, path, *needles)
        if path != truncated:  # a file that is not JSON does not even open the target
            empty(t, target, os.path.basename(path))
    pg = fresh_pg()
    refused(t, pg, cases[-1][0], *cases[-1][1])
    empty(t, pg, 'PostgreSQL, late failure')


@h.test
def a_store_with_objects_is_not_a_target(t):
    d, source, _, _, _ = populate(t)
    a, raw = export(t, source, os.path.join(d, 'a.json'))
    pg = fresh_pg()
    ok(t, 'store', 'import', '--store', pg, '--input', os.path.join(d, 'a.json'))
    refused(t, pg, os.path.join(d, 'a.json'), 'the target store is not empty')
    refused(t, source, os.path.join(d, 'a.json'), 'the target store is not empty')
    again, again_raw = export(t, pg, os.path.join(d, 'again.json'))
    t.eq(again_raw, raw, 'a refused import changed the target')
    # A store where a server or a command ran has the IdP's secret and key pair already.
    used = os.path.join(d, 'used')
    os.mkdir(used)
    cfg = h.write_config({'server': {'data_dir': os.path.join(used, 'data')}}, used)
    ok(t, 'group', 'list', '--config', cfg)
    refused(t, 'sqlite:' + os.path.join(used, 'data', 'postern.db'), os.path.join(d, 'a.json'),
            'the target store is not empty: it has the setting idp.secret')


@h.test
def migrate_says_what_it_did_and_refuses_a_newer_schema(t):
    d = h.tmpdir()
    db = os.path.join(d, 'm.db')
    rc, out, err = pst(t, 'migrate', '--store', 'sqlite:' + db)
    t.eq(rc, 0, err)
    t.contains(out, 'schema version 0 (this postern: ')
    t.contains(err, 'applied migration 1 (')
    latest = int(out.split('this postern: ')[1].split(')')[0])
    t.contains(out, 'schema version %d: %d step(s) applied' % (latest, latest))
    rc, out, err = pst(t, 'migrate', '--store', 'sqlite:' + db)
    t.eq(rc, 0, err)
    t.contains(out, 'schema version %d: up to date' % latest)
    t.eq(err.count('applied migration'), 0)
    pg = fresh_pg()
    out, _ = ok(t, 'migrate', '--store', pg)
    t.contains(out, 'schema version %d: %d step(s) applied' % (latest, latest))
    # A store migrated by a newer postern: refused, by migrate and by export.
    con = sqlite3.connect(db)
    con.execute("INSERT INTO schema_version VALUES (?, 'from the future', 0)", (latest + 1,))
    con.commit()
    con.close()
    rc, out, err = pst(t, 'migrate', '--store', 'sqlite:' + db)
    t.eq(rc, 1)
    t.contains(err, 'newer than this postern')
    rc, out, err = pst(t, 'store', 'export', '--store', 'sqlite:' + db)
    t.eq(rc, 1)
    t.contains(err, 'export it with a newer postern')
    # Usage errors: exit 2. A missing SQLite file is not an empty store to export.
    t.eq(pst(t, 'migrate')[0], 2)
    t.eq(pst(t, 'store', 'export', '--store', 'x', '--config', 'y')[0], 2)
    t.eq(pst(t, 'store', 'copy', '--store', 'x')[0], 2)
    rc, _, err = pst(t, 'store', 'export', '--store', 'sqlite:' + os.path.join(d, 'none.db'))
    t.eq(rc, 1)
    t.contains(err, 'no store at')
    t.ok(not os.path.exists(os.path.join(d, 'none.db')), 'export created the file')


if __name__ == '__main__':
    h.main()
