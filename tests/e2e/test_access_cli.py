"""The gateway's configuration and commands (issue 4, items 1, 2, 4 and 6): the `access:`
section through `postern apply` and `serve` (idempotent, one transaction, AUD tags kept, errors
with FILE:LINE: FIELD), `postern access service-token add|list|del`, `rotate-keys`, `apps`,
`idps`, and `test-idp` against oidc-provider (an OpenID provider that is not ours) and against
Postern's own IdP."""
import json
import os
import re
import shutil
import sqlite3
import subprocess
import time

import harness as h

# The issue's example, as written there.
ACCESS = """\
access:
  team_domain: http://team.localhost:9000
  identity_providers:
    - name: Authentik
      type: oidc
      client_id: cf-client
      client_secret: cf-secret-0123456789
      auth_url: http://auth.localhost:9000/application/o/authorize/
      token_url: http://auth.localhost:9000/application/o/token/
      certs_url: http://auth.localhost:9000/application/o/cloudflare/jwks/
      # optional: discovery_url, pkce_enabled, email_claim_name, scopes, claims, ca_file
  applications:
    - name: myapp
      domain: service.localhost            # host, optional path prefix, leftmost-label wildcard
      origin: http://127.0.0.1:8081
      session_duration: 24h
      identity_providers: [Authentik]
      instant_auth: true                   # "skip identity provider selection if only one"
      policies:
        - { name: allow, action: allow, include: [ { everyone: true } ] }
"""

SECRET = 'cf-secret-0123456789'
HEX64 = re.compile(r'^[0-9a-f]{64}$')


def setup(objects=ACCESS):
    d = h.tmpdir()
    data = os.path.join(d, 'data')
    cfg = os.path.join(d, 'postern.yaml')
    with open(cfg, 'w') as f:
        f.write('server: { data_dir: %s }\n' % data)
    objs = os.path.join(d, 'access.yaml')
    with open(objs, 'w') as f:
        f.write(objects)
    return d, cfg, objs, os.path.join(data, 'postern.db')


def pst(t, *args):
    p = subprocess.run([h.postern_bin()] + list(args), capture_output=True, timeout=60,
                       text=True)
    report = h.sanitizer_report(p.stderr)
    if report:
        t.fail('sanitizer report from postern %s:\n%s' % (' '.join(args), '\n'.join(report)))
    return p.returncode, p.stdout, p.stderr


def write(d, name, text):
    path = os.path.join(d, name)
    with open(path, 'w') as f:
        f.write(text)
    return path


def query(db, sql, *params):
    con = sqlite3.connect(db)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def apps(t, cfg):
    """{name: (domain, aud, origin)} from `postern access apps`."""
    rc, out, err = pst(t, 'access', 'apps', '--config', cfg)
    t.eq(rc, 0, err)
    lines = out.splitlines()
    t.eq(lines[0].split(), ['NAME', 'DOMAIN', 'AUD', 'TAG', 'ORIGIN'])
    return {f[0]: tuple(f[1:]) for f in (l.split() for l in lines[1:])}


def events(t, cfg, action):
    rc, out, err = pst(t, 'events', '--config', cfg, '--action', action, '--limit', '100')
    t.eq(rc, 0, err)
    return out


# ---- the `access:` section ----------------------------------------------------------------

@h.test
def the_issues_yaml_applies_twice_and_keeps_its_aud_tag(t):
    d, cfg, objs, db = setup()
    rc, out, err = pst(t, 'apply', '--config', cfg, objs)
    t.eq(rc, 0, err)
    t.contains(out, 'access.yaml: 3 created, 0 updated')  # team domain, IdP, application
    first = apps(t, cfg)
    t.eq(list(first), ['myapp'])
    domain, aud, origin = first['myapp']
    t.eq(domain, 'service.localhost')
    t.eq(origin, 'http://127.0.0.1:8081')
    t.ok(HEX64.match(aud), 'AUD tag is not 64 hex digits: %r' % aud)
    # Again: nothing changes, no event, same AUD tag.
    rc, out, err = pst(t, 'apply', '--config', cfg, objs)
    t.eq(rc, 0, err)
    t.contains(out, 'access.yaml: 0 created, 0 updated')
    t.eq(apps(t, cfg), first)
    t.eq(events(t, cfg, 'model_updated').count('\n'), 0)
    created = events(t, cfg, 'model_created')
    for model, name in (('access_team_domain', 'http://team.localhost:9000'),
                        ('access_identity_provider', 'Authentik'),
                        ('access_application', 'myapp')):
        t.eq(created.count('{"model":"%s","name":"%s"}' % (model, name)), 1, created)
    t.ok(SECRET not in created, 'an event holds the client secret')
    # What the store holds is the normalised form the gateway reads back.
    t.eq(query(db, "SELECT value FROM meta WHERE key = 'access.team_domain'"),
         [('http://team.localhost:9000',)])
    (config,), = query(db, "SELECT config FROM access_apps WHERE name = 'myapp'")
    t.contains(config, '"session_duration":"24h"')
    t.contains(config, '"identity_providers":["Authentik"]')
    t.contains(config, '"instant_auth":true')
    # A signing key for app tokens exists after the first apply, and only one.
    t.eq(query(db, 'SELECT count(*) FROM access_keys WHERE retired_at = 0'), [(1,)])
    t.eq(query(db, 'SELECT count(*) FROM access_keys'), [(1,)])


@h.test
def a_changed_application_is_updated_and_keeps_its_aud_tag(t):
    d, cfg, objs, db = setup()
    t.eq(pst(t, 'apply', '--config', cfg, objs)[0], 0)
    aud = apps(t, cfg)['myapp'][1]
    changed = write(d, 'changed.yaml', ACCESS.replace('127.0.0.1:8081', '127.0.0.1:9091'))
    rc, out, err = pst(t, 'apply', '--config', cfg, changed)
    t.eq(rc, 0, err)
    t.contains(out, 'changed.yaml: 0 created, 1 updated')
    t.eq(apps(t, cfg)['myapp'], ('service.localhost', aud, 'http://127.0.0.1:9091'))
    t.contains(events(t, cfg, 'model_updated'),
               '{"model":"access_application","name":"myapp"}')
    # A new client secret is an update of the identity provider, never shown in the event.
    rotated = write(d, 'secret.yaml', ACCESS.replace(SECRET, 'another-secret-98765'))
    rc, out, err = pst(t, 'apply', '--config', cfg, rotated)
    t.eq(rc, 0, err)
    t.contains(out, '0 created, 2 updated')
    ev = events(t, cfg, 'model_updated')
    t.contains(ev, '{"model":"access_identity_provider","name":"Authentik"}')
    t.ok('another-secret' not in ev)


@h.test
def a_given_aud_tag_is_kept_and_never_changed(t):
    given = 'ab' * 32
    text = ACCESS.replace('      session_duration: 24h\n',
                          '      session_duration: 24h\n      aud: %s\n' % given)
    d, cfg, objs, db = setup(text)
    rc, _, err = pst(t, 'apply', '--config', cfg, objs)
    t.eq(rc, 0, err)
    t.eq(apps(t, cfg)['myapp'][1], given)
    t.contains(pst(t, 'apply', '--config', cfg, objs)[1], 'access.yaml: 0 created, 0 updated\n')
    other = write(d, 'other.yaml', text.replace(given, 'cd' * 32))
    rc, _, err = pst(t, 'apply', '--config', cfg, other)
    t.eq(rc, 1)
    t.contains(err, 'other.yaml:17: access.applications[0].aud: application "myapp" has the '
               'AUD tag %s; an AUD tag never changes' % given)
    t.eq(apps(t, cfg)['myapp'][1], given)


@h.test
def a_later_file_may_name_the_stored_identity_providers_only(t):
    """Without identity_providers (or team_domain) in the file, an application names the stored
    ones; a name that is neither in the file nor in the store is refused."""
    d, cfg, objs, db = setup()
    t.eq(pst(t, 'apply', '--config', cfg, objs)[0], 0)
    app = ('access:\n'
           '  applications:\n'
           '    - name: wiki\n'
           '      domain: wiki.localhost/docs\n'
           '      origin: http://127.0.0.1:8082\n'
           '      identity_providers: [%s]\n'
           '      policies:\n'
           '        - { name: staff, action: allow, include: [ { login_method: [Authentik] } ] }\n')
    ok = write(d, 'wiki.yaml', app % 'Authentik')
    rc, out, err = pst(t, 'apply', '--config', cfg, ok)
    t.eq(rc, 0, err)
    t.contains(out, 'wiki.yaml: 1 created, 0 updated')
    t.eq(apps(t, cfg)['wiki'][0], 'wiki.localhost/docs')
    bad = write(d, 'nope.yaml', (app % 'Nope').replace('wiki', 'wiki2'))
    rc, _, err = pst(t, 'apply', '--config', cfg, bad)
    t.eq(rc, 1)
    t.contains(err, 'nope.yaml:6: access.applications[0].identity_providers[0]: no identity '
               'provider named "Nope"')
    # A file with its own list may also name a stored one.
    both = ('access:\n'
            '  identity_providers:\n'
            '    - { name: Other, type: oidc, client_id: o, client_secret: o-secret,\n'
            '        discovery_url: "http://o.localhost/.well-known/openid-configuration" }\n'
            '  applications:\n'
            '    - name: both\n'
            '      domain: both.localhost\n'
            '      origin: http://127.0.0.1:8083\n'
            '      identity_providers: [Other, Authentik]\n'
            '      policies: [ { name: all, action: allow, include: [ { everyone: true } ] } ]\n')
    rc, out, err = pst(t, 'apply', '--config', cfg, write(d, 'both.yaml', both))
    t.eq(rc, 0, err)
    t.contains(out, '2 created, 0 updated')
    # Without a stored team domain, a section without team_domain is refused.
    d2, cfg2, _, _ = setup()
    rc, _, err = pst(t, 'apply', '--config', cfg2, ok)
    t.eq(rc, 1)
    t.contains(err, 'wiki.yaml:2: access.team_domain: is required')


ERRORS = [
    # (what, text replaced in ACCESS -> replacement, expected "LINE: FIELD: message" part)
    ('bad selector',
     '{ everyone: true }', '{ everybody: true }',
     ':20: access.applications[0].policies[0].include[0].everybody: unknown selector'),
    ('unknown IdP name',
     'identity_providers: [Authentik]', 'identity_providers: [Authentik, Okta]',
     ':17: access.applications[0].identity_providers[1]: no identity provider named "Okta"'),
    ('unknown login method',
     '{ everyone: true }', '{ login_method: [Okta] }',
     ':20: access.applications[0].policies[0].include[0].login_method[0]'),
    ('bad CIDR',
     '{ everyone: true }', '{ ip_ranges: [ 10.0.0.0/8, 192.168.1.1/33 ] }',
     ':20: access.applications[0].policies[0].include[0].ip_ranges[1]'),
    ('CIDR with host bits',
     '{ everyone: true }', '{ ip_ranges: [ 10.1.2.3/8 ] }',
     ':20: access.applications[0].policies[0].include[0].ip_ranges[0]: bits set after'),
    ('bad duration',
     'session_duration: 24h', 'session_duration: 24 hours',
     ':16: access.applications[0].session_duration: expected a duration'),
    ('too long a session',
     'session_duration: 24h', 'session_duration: 1000d',
     ':16: access.applications[0].session_duration'),
    ('bad origin',
     'origin: http://127.0.0.1:8081', 'origin: ftp://127.0.0.1:8081',
     ':15: access.applications[0].origin'),
    ('origin with a path',
     'origin: http://127.0.0.1:8081', 'origin: http://127.0.0.1:8081/app',
     ':15: access.applications[0].origin'),
    ('bad team domain',
     'team_domain: http://team.localhost:9000', 'team_domain: team.localhost',
     ':2: access.team_domain'),
    ('bad action',
     'action: allow', 'action: permit',
     ':20: access.applications[0].policies[0].action'),
    ('unknown field',
     '      instant_auth: true ', '      instant_auth: true\n      colour: blue ',
     ':19: access.applications[0].colour: unknown field'),
    ('IdP without client_id',
     '      client_id: cf-client\n', '',
     ':4: access.identity_providers[0].client_id: is required'),
    ('app without policies',
     "      policies:\n        - { name: allow, action: allow, include: [ { everyone: true } ] }\n",
     '', ':13: access.applications[0].policies: is required'),
    ('not a mapping',
     ACCESS, 'access: [ oops ]\n', ':1: access: expected a mapping'),
]


@h.test
def every_mistake_is_reported_at_its_line_and_field_and_changes_nothing(t):
    d, cfg, _, db = setup()
    for i, (what, old, new, want) in enumerate(ERRORS):
        t.ok(old in ACCESS, 'case %r does not apply' % what)
        path = write(d, 'bad%d.yaml' % i, ACCESS.replace(old, new))
        rc, out, err = pst(t, 'apply', '--config', cfg, path)
        t.eq(rc, 1, what + ': ' + out + err)
        t.contains(err, 'bad%d.yaml%s' % (i, want), what)
    # Every file was refused whole: the valid team domain and IdP before the mistake too.
    t.eq(query(db, 'SELECT count(*) FROM access_idps'), [(0,)])
    t.eq(query(db, 'SELECT count(*) FROM access_apps'), [(0,)])
    t.eq(query(db, "SELECT count(*) FROM meta WHERE key = 'access.team_domain'"), [(0,)])
    t.eq(query(db, 'SELECT count(*) FROM access_keys'), [(0,)])


@h.test
def a_domain_of_another_stored_application_is_refused(t):
    d, cfg, objs, db = setup()
    t.eq(pst(t, 'apply', '--config', cfg, objs)[0], 0)
    text = ACCESS.replace('name: myapp', 'name: copycat')
    rc, _, err = pst(t, 'apply', '--config', cfg, write(d, 'copy.yaml', text))
    t.eq(rc, 1)
    t.contains(err, 'copy.yaml:14: access.applications[0].domain: "service.localhost" is already '
               'the domain of application "myapp"')
    rc, _, err = pst(t, 'apply', '--config', cfg,
                     write(d, 'team.yaml', ACCESS.replace('domain: service.localhost',
                                                          'domain: team.localhost')))
    t.eq(rc, 1)
    t.contains(err, 'team.yaml:14: access.applications[0].domain')
    t.eq(sorted(apps(t, cfg)), ['myapp'])


@h.test
def serve_applies_the_access_section_of_its_config(t):
    d = h.tmpdir()
    port = h.free_port()
    data = os.path.join(d, 'data')
    text = 'server: { listen: ["127.0.0.1:%d"], data_dir: %s }\n' % (port, data) + ACCESS
    srv = h.start_postern(text)
    t.eq(srv.stop(), 0)
    t.contains(srv.log(), 'config objects: 3 created, 0 updated')
    cfg = write(d, 'plain.yaml', 'server: { data_dir: %s }\n' % data)
    t.eq(apps(t, cfg)['myapp'][0], 'service.localhost')
    # A mistake in the section stops serve with the file, line and field.
    bad = text.replace('{ everyone: true }', '{ ip_ranges: [ "::1/129" ] }')
    srv = h.start_postern(bad, ready=False)
    t.ne(srv.wait(30), 0)
    t.contains(srv.log(), ':21: access.applications[0].policies[0].include[0].ip_ranges[0]')


# ---- postern access apps / idps -------------------------------------------------------------

@h.test
def idps_show_urls_and_the_redirect_uri_but_never_the_secret(t):
    d, cfg, objs, db = setup()
    rc, out, err = pst(t, 'access', 'idps', '--config', cfg)
    t.eq(rc, 0, err)
    t.contains(out, 'no identity providers')
    t.eq(pst(t, 'apply', '--config', cfg, objs)[0], 0)
    rc, out, err = pst(t, 'access', 'idps', '--config', cfg)
    t.eq(rc, 0, err)
    for line in ('Authentik',
                 '  Type:           oidc',
                 '  Client ID:      cf-client',
                 '  Auth URL:       http://auth.localhost:9000/application/o/authorize/',
                 '  Token URL:      http://auth.localhost:9000/application/o/token/',
                 '  Certs URL:      http://auth.localhost:9000/application/o/cloudflare/jwks/',
                 '  Redirect URI:   http://team.localhost:9000/cdn-cgi/access/callback'):
        t.contains(out, line + '\n' if not line.startswith('  Redirect') else line)
    t.ok(SECRET not in out + err, 'idps printed the client secret')
    rc, _, err = pst(t, 'access', 'idps', 'extra', '--config', cfg)
    t.eq(rc, 2)


# ---- service tokens ---------------------------------------------------------------------------

TOKEN_ID = re.compile(r'^CF-Access-Client-Id: ([0-9a-f]{32}\.access)$', re.M)
TOKEN_SECRET = re.compile(r'^CF-Access-Client-Secret: ([0-9a-f]{64})$', re.M)


@h.test
def a_service_token_secret_is_printed_once_and_only_its_hash_is_kept(t):
    d, cfg, objs, db = setup()
    rc, out, err = pst(t, 'access', 'service-token', 'add', 'ci-runner', '--config', cfg)
    t.eq(rc, 0, err)
    cid, secret = TOKEN_ID.search(out), TOKEN_SECRET.search(out)
    t.ok(cid and secret, 'no header lines in:\n' + out)
    cid, secret = cid.group(1), secret.group(1)
    t.eq(out.count(secret), 1, 'the secret is printed more than once')
    t.eq(out.count(cid), 1)
    # Default duration: one year.
    m = re.search(r'expires: (\S+)', out)
    t.ok(m, out)
    expires = time.mktime(time.strptime(m.group(1), '%Y-%m-%dT%H:%M:%SZ')) - time.timezone
    t.le(abs(expires - (time.time() + 365 * 86400)), 120)
    # The list shows the token, never the secret; the database has only a digest.
    rc, out, err = pst(t, 'access', 'service-token', 'list', '--config', cfg)
    t.eq(rc, 0, err)
    t.eq(out.splitlines()[0].split(), ['NAME', 'CLIENT', 'ID', 'CREATED', 'EXPIRES', 'LAST',
                                       'USED'])
    row = out.splitlines()[1].split()
    t.eq(row[0:2], ['ci-runner', cid])
    t.eq(row[-1], 'never')  # last used
    t.ok(secret not in out + err)
    with open(db, 'rb') as f:
        raw = f.read()
    for name in ('postern.db-wal',):
        if os.path.exists(os.path.join(os.path.dirname(db), name)):
            with open(os.path.join(os.path.dirname(db), name), 'rb') as f:
                raw += f.read()
    t.ok(secret.encode() not in raw, 'the secret is stored in clear')
    # Events name the token, never its secret.
    ev = events(t, cfg, 'model_created')
    t.contains(ev, '{"model":"service_token","name":"ci-runner"}')
    t.ok(secret not in ev)


@h.test
def service_tokens_duplicate_names_durations_and_delete(t):
    d, cfg, objs, db = setup()
    t.eq(pst(t, 'access', 'service-token', 'add', 'ci', '--config', cfg)[0], 0)
    rc, out, err = pst(t, 'access', 'service-token', 'add', 'ci', '--config', cfg)
    t.eq(rc, 1)
    t.contains(err, 'a service token named "ci" already exists')
    t.ok('CF-Access-Client' not in out)
    rc, out, err = pst(t, 'access', 'service-token', 'add', 'robot', '--duration', 'forever',
                       '--config', cfg)
    t.eq(rc, 0, err)
    t.contains(out, 'expires: never')
    rc, out, err = pst(t, 'access', 'service-token', 'add', 'short', '--duration', '30d',
                       '--config', cfg)
    t.eq(rc, 0, err)
    t.eq(query(db, "SELECT expires_at - created_at FROM access_service_tokens "
                   "WHERE name = 'short'"), [(30 * 86400,)])
    t.eq(query(db, "SELECT expires_at FROM access_service_tokens WHERE name = 'robot'"), [(0,)])
    for bad in ('0s', '30s', '11y', '1x', '-1d', ''):
        rc, _, err = pst(t, 'access', 'service-token', 'add', 'bad', '--duration', bad,
                         '--config', cfg)
        t.eq(rc, 2, 'duration %r' % bad)
        t.contains(err, '--duration takes')
    for bad in (' lead', 'trail ', 'x' * 129, 'tab\there'):
        rc, _, err = pst(t, 'access', 'service-token', 'add', bad, '--config', cfg)
        t.eq(rc, 2, 'name %r' % bad)
    rc, _, err = pst(t, 'access', 'service-token', 'list', '--duration', '1y', '--config', cfg)
    t.eq(rc, 2)
    t.eq(query(db, 'SELECT name FROM access_service_tokens ORDER BY name'),
         [('ci',), ('robot',), ('short',)])
    rc, out, err = pst(t, 'access', 'service-token', 'del', 'ci', '--config', cfg)
    t.eq(rc, 0, err)
    t.contains(out, 'service token ci deleted')
    rc, _, err = pst(t, 'access', 'service-token', 'del', 'ci', '--config', cfg)
    t.eq(rc, 1)
    t.contains(err, 'no service token named "ci"')
    rc, out, _ = pst(t, 'access', 'service-token', 'list', '--config', cfg)
    t.ok('\nci ' not in out, out)
    t.contains(events(t, cfg, 'model_deleted'), '{"model":"service_token","name":"ci"}')
    # Deleted, the name can be used again (with a new client ID).
    t.eq(pst(t, 'access', 'service-token', 'add', 'ci', '--config', cfg)[0], 0)


# ---- signing keys -------------------------------------------------------------------------------

KID = re.compile(r'^new signing key: kid (\S+);', re.M)


def current_kid(db):
    (kid,), = query(db, 'SELECT p.kid FROM access_keys k JOIN certificate_keypairs p '
                        'ON p.name = k.keypair_name WHERE k.retired_at = 0')
    return kid


@h.test
def rotate_keys_adds_a_current_key_and_keeps_the_previous_for_the_grace(t):
    d, cfg, objs, db = setup()
    t.eq(pst(t, 'apply', '--config', cfg, objs)[0], 0)
    old = current_kid(db)
    before = time.time()
    rc, out, err = pst(t, 'access', 'rotate-keys', '--config', cfg)
    t.eq(rc, 0, err)
    new = KID.search(out).group(1)
    t.ne(new, old)
    t.eq(current_kid(db), new)
    m = re.search(r'previous key: kid (\S+) verifies until (\S+)', out)
    t.ok(m, out)
    t.eq(m.group(1), old)
    until = time.mktime(time.strptime(m.group(2), '%Y-%m-%dT%H:%M:%SZ')) - time.timezone
    t.le(abs(until - (before + 7 * 86400)), 120)
    # Both keys in the store's list: the new one current, the old one until the grace ends.
    rows = query(db, 'SELECT p.kid, k.retired_at, k.not_after - k.retired_at FROM access_keys k '
                     'JOIN certificate_keypairs p ON p.name = k.keypair_name ORDER BY k.id')
    t.eq([(r[0], r[1] == 0, r[2]) for r in rows], [(old, False, 7 * 86400), (new, True, 0)])
    t.contains(out, '  %s' % new)
    t.contains(out, '  %s' % old)
    ev = events(t, cfg, 'key_rotated')
    t.contains(ev, '"name":"%s"' % new)
    t.contains(ev, '"previous":"%s"' % old)
    # --grace: bounds, and a shorter grace.
    rc, out, err = pst(t, 'access', 'rotate-keys', '--grace', '2h', '--config', cfg)
    t.eq(rc, 0, err)
    t.eq(query(db, 'SELECT k.not_after - k.retired_at FROM access_keys k JOIN '
                   'certificate_keypairs p ON p.name = k.keypair_name WHERE p.kid = ?', new),
         [(7200,)])
    for bad in ('367d', '-1', '1x', '2y', ''):
        rc, _, err = pst(t, 'access', 'rotate-keys', '--grace', bad, '--config', cfg)
        t.eq(rc, 2, 'grace %r' % bad)
        t.contains(err, '--grace takes 0 to 366d')
    # --grace 0: the previous key stops verifying at once (a leaked key).
    third = current_kid(db)
    rc, out, err = pst(t, 'access', 'rotate-keys', '--grace', '0', '--config', cfg)
    t.eq(rc, 0, err)
    t.contains(out, 'previous key: kid %s no longer verifies' % third)
    t.eq(query(db, 'SELECT count(*) FROM access_keys WHERE retired_at = 0'), [(1,)])


@h.test
def rotate_keys_on_an_empty_store_makes_the_first_key(t):
    d, cfg, objs, db = setup()
    rc, out, err = pst(t, 'access', 'rotate-keys', '--config', cfg)
    t.eq(rc, 0, err)
    t.contains(out, 'there was no previous key')
    t.eq(current_kid(db), KID.search(out).group(1))


# ---- help and usage ---------------------------------------------------------------------------

@h.test
def help_mentions_access_and_every_command_has_help(t):
    rc, out, _ = pst(t, '--help')
    t.eq(rc, 0)
    t.contains(out, '  access service-token add|list|del, rotate-keys, apps, idps, test-idp NAME')
    for args in (['access', '--help'], ['help', 'access'], ['access', 'service-token', '--help'],
                 ['access', 'service-token', 'add', '--help'], ['access', 'rotate-keys', '-h'],
                 ['access', 'apps', '--help'], ['access', 'idps', '--help'],
                 ['access', 'test-idp', '--help']):
        rc, out, err = pst(t, *args)
        t.eq(rc, 0, ' '.join(args) + err)
        t.ok(out.startswith('Usage: postern access'), ' '.join(args) + ': ' + out)
    d, cfg, _, _ = setup()
    for args, want in ((['access'], 'expected service-token, rotate-keys, apps, idps or test-idp'),
                       (['access', 'frob', '--config', cfg], 'expected service-token'),
                       (['access', 'apps'], '--config FILE is required'),
                       (['access', 'service-token', 'frob', '--config', cfg],
                        'expected service-token add, list or del'),
                       (['access', 'service-token', 'add', '--config', cfg], 'name one token'),
                       (['access', 'rotate-keys', '--duration', '1y', '--config', cfg],
                        '--duration is for service-token add'),
                       (['access', 'service-token', 'add', 'x', '--grace', '1d', '--config', cfg],
                        '--grace is for rotate-keys')):
        rc, _, err = pst(t, *args)
        t.eq(rc, 2, ' '.join(args))
        t.contains(err, want)


# ---- postern access test-idp ------------------------------------------------------------------

OP_SECRET = 'gate-secret-0123456789-0123456789-abcdef'
TEAM = 'http://team.localhost:9000'
CALLBACK = TEAM + '/cdn-cgi/access/callback'

OP_ACCESS = """\
access:
  team_domain: %(team)s
  identity_providers:
    - { name: Good, type: oidc, client_id: gate, client_secret: %(s)s,
        discovery_url: "%(iss)s/.well-known/openid-configuration" }
    - { name: Wrong secret, type: oidc, client_id: gate, client_secret: not-the-secret-42,
        discovery_url: "%(iss)s/.well-known/openid-configuration" }
    - { name: Down, type: oidc, client_id: gate, client_secret: %(s)s,
        auth_url: "%(down)s/auth", token_url: "%(down)s/token", certs_url: "%(down)s/jwks" }
    - { name: Down discovery, type: oidc, client_id: gate, client_secret: %(s)s,
        discovery_url: "%(down)s/.well-known/openid-configuration" }
    - { name: Bad JWKS, type: oidc, client_id: gate, client_secret: %(s)s, issuer: "%(iss)s",
        auth_url: "%(iss)s/auth", token_url: "%(iss)s/token", certs_url: "%(iss)s/jwks/nope" }
  applications: []
"""


def start_op(t):
    """tests/e2e/oidc_provider.mjs (npm's oidc-provider) on idp.localhost:PORT with the client
    `gate`, whose redirect URI is the gateway's (TEAM). Returns its issuer."""
    node = shutil.which('node')
    t.ok(node is not None, 'node is not installed (scripts/install-deps --test)')
    port = h.free_port()
    path = os.path.join(h.tmpdir(), 'op.json')
    with open(path, 'w') as f:
        json.dump({'port': port, 'issuer': 'http://idp.localhost:PORT', 'clients': [
            {'client_id': 'gate', 'client_secret': OP_SECRET, 'redirect_uris': [CALLBACK]}]}, f)
    mjs = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'oidc_provider.mjs')
    h.Server('oidc-provider', [node, mjs, path], port).wait_ready(
        '/.well-known/openid-configuration')
    return 'http://idp.localhost:%d' % port


def test_idp(t, cfg, name):
    """(exit status, {check: (status word, rest of the line)}, stdout, stderr)."""
    rc, out, err = pst(t, 'access', 'test-idp', name, '--config', cfg)
    checks = {}
    for line in out.splitlines():
        m = re.match(r'^(discovery|jwks|token endpoint|authorization endpoint|clock) +(\S+) +'
                     r'(.*)$', line)
        if m:
            t.ok(m.group(1) not in checks, 'check printed twice:\n' + out)
            checks[m.group(1)] = (m.group(2), m.group(3))
    return rc, checks, out, err


@h.test
def test_idp_against_oidc_provider(t):
    iss = start_op(t)
    down = 'http://127.0.0.1:%d' % h.free_port()  # nothing listens there
    d, cfg, objs, db = setup(OP_ACCESS % {'team': TEAM, 's': OP_SECRET, 'iss': iss,
                                          'down': down})
    rc, _, err = pst(t, 'apply', '--config', cfg, objs)
    t.eq(rc, 0, err)

    rc, checks, out, err = test_idp(t, cfg, 'Good')
    t.eq(rc, 0, out + err)
    t.eq(out.splitlines()[0], 'identity provider Good; redirect URI %s' % CALLBACK)
    t.eq(sorted(checks), ['authorization endpoint', 'clock', 'discovery', 'jwks',
                          'token endpoint'])
    for what, (status, rest) in checks.items():
        t.eq(status, 'OK', '%s: %s' % (what, rest))
    t.contains(checks['discovery'][1], 'issuer %s' % iss)
    t.contains(checks['jwks'][1], '%s/jwks: 1 usable key(s)' % iss)
    t.contains(checks['token endpoint'][1], 'the client authenticated')
    t.contains(out, '5 of 5 checks passed\n')
    t.ok(out.endswith('interactive test (a real login in a browser): '
                      '%s/cdn-cgi/access/test/Good\n' % TEAM), out)
    t.ok(OP_SECRET not in out + err, 'the client secret was printed')

    rc, checks, out, err = test_idp(t, cfg, 'Wrong secret')
    t.eq(rc, 1, out + err)
    t.eq(checks['token endpoint'][0], 'invalid_client', out)
    t.contains(checks['token endpoint'][1], 'check client_id and client_secret')
    t.contains(checks['token endpoint'][1], 'token endpoint %s/token: invalid_client' % iss)
    t.eq([w for w, (st, _) in checks.items() if st != 'OK'], ['token endpoint'])
    t.contains(out, '4 of 5 checks passed\n')
    t.contains(out, '/cdn-cgi/access/test/Wrong%20secret\n')
    t.ok('not-the-secret' not in out + err, 'the client secret was printed')

    rc, checks, out, err = test_idp(t, cfg, 'Down')
    t.eq(rc, 1, out + err)
    t.ok('discovery' not in checks, out)
    for what, path in (('jwks', '/jwks'), ('token endpoint', '/token'),
                       ('authorization endpoint', '/auth')):
        t.eq(checks[what][0], 'unreachable', out)
        t.contains(checks[what][1], down + path)
        t.contains(checks[what][1], 'connection refused')
    t.eq(checks['clock'][0], 'OK')  # unknown: nobody answered
    t.contains(out, '1 of 4 checks passed\n')

    rc, checks, out, err = test_idp(t, cfg, 'Down discovery')
    t.eq(rc, 1, out + err)
    t.eq(checks['discovery'][0], 'unreachable', out)
    t.contains(checks['discovery'][1], down + '/.well-known/openid-configuration')
    for what in ('jwks', 'token endpoint', 'authorization endpoint'):
        t.eq(checks[what][0], 'discovery', out)  # "... not discovered"

    rc, checks, out, err = test_idp(t, cfg, 'Bad JWKS')
    t.eq(rc, 1, out + err)
    t.eq(checks['jwks'][0], 'jwks_unusable', out)
    t.contains(checks['jwks'][1], 'JWKS %s/jwks/nope: HTTP 404' % iss)
    for what in ('token endpoint', 'authorization endpoint', 'clock'):
        t.eq(checks[what][0], 'OK', out)


@h.test
def test_idp_against_postern_idp(t):
    """Postern's own IdP as the provider (the walkthrough's Authentik): every check passes;
    a provider whose redirect URIs do not include the gateway's is diagnosed."""
    cfg = h.postern_config()
    port = int(cfg['server']['listen'][0].rsplit(':', 1)[1])
    auth = 'http://auth.localhost:%d' % port
    team = 'http://team.localhost:%d' % port
    secret = 'cf-secret-0123456789'

    def provider(name, redirect):
        return {'name': name, 'client_type': 'confidential', 'client_id': name.lower(),
                'client_secret': secret,
                'authorization_flow': 'default-provider-authorization-implicit-consent',
                'redirect_uris': [{'matching_mode': 'strict', 'url': redirect}],
                'signing_key': 'postern Self-signed Certificate'}

    def idp(name, slug, discovery):
        d = {'name': name, 'type': 'oidc', 'client_id': name.lower(), 'client_secret': secret}
        if discovery:
            d['discovery_url'] = auth + '/application/o/%s/.well-known/openid-configuration' % slug
        else:
            d.update(auth_url=auth + '/application/o/authorize/',
                     token_url=auth + '/application/o/token/',
                     certs_url=auth + '/application/o/%s/jwks/' % slug)
        return d
    cfg['idp'] = {'public_url': auth}
    cfg['providers'] = [provider('Cloudflare', team + '/cdn-cgi/access/callback'),
                        provider('Elsewhere', 'http://elsewhere.localhost/callback')]
    cfg['applications'] = [{'name': n, 'slug': n.lower(), 'provider': n}
                           for n in ('Cloudflare', 'Elsewhere')]
    cfg['access'] = {'team_domain': team, 'identity_providers': [
        idp('Cloudflare', 'cloudflare', False), idp('Elsewhere', 'elsewhere', True)],
        'applications': []}
    h.start_postern(cfg)
    path = h.write_config(cfg)  # the same data directory

    rc, checks, out, err = test_idp(t, path, 'Cloudflare')
    t.eq(rc, 0, out + err)
    t.eq(sorted(checks), ['authorization endpoint', 'clock', 'jwks', 'token endpoint'])
    for what, (status, rest) in checks.items():
        t.eq(status, 'OK', '%s: %s' % (what, rest))
    t.contains(checks['jwks'][1], auth + '/application/o/cloudflare/jwks/: 1 usable key(s)')
    t.contains(out, 'interactive test (a real login in a browser): %s/cdn-cgi/access/test/'
               'Cloudflare\n' % team)
    t.ok(secret not in out + err)

    rc, checks, out, err = test_idp(t, path, 'Elsewhere')
    t.eq(rc, 1, out + err)
    t.eq(checks['discovery'][0], 'OK', out)
    t.contains(checks['discovery'][1], 'issuer %s/application/o/elsewhere/' % auth)
    t.eq(checks['authorization endpoint'][0], 'redirect_uri', out)
    t.contains(checks['authorization endpoint'][1],
               'register %s/cdn-cgi/access/callback as a redirect URI' % team)
    t.eq(checks['token endpoint'][0], 'OK', out)


@h.test
def test_idp_usage_and_missing_objects(t):
    d, cfg, objs, db = setup()
    # No team domain yet (nothing applied): exit 1 with a reason, no check run.
    rc, out, err = pst(t, 'access', 'test-idp', 'Authentik', '--config', cfg)
    t.eq(rc, 1)
    t.contains(err, 'no access.team_domain')
    t.eq(out, '')
    t.eq(pst(t, 'apply', '--config', cfg, objs)[0], 0)
    rc, out, err = pst(t, 'access', 'test-idp', 'Okta', '--config', cfg)
    t.eq(rc, 1)
    t.contains(err, 'no identity provider named "Okta"')
    t.eq(out, '')
    for args, want in ((['access', 'test-idp', '--config', cfg], 'name one identity provider'),
                       (['access', 'test-idp', 'a', 'b', '--config', cfg],
                        'name one identity provider'),
                       (['access', 'test-idp', 'Authentik'], '--config FILE is required'),
                       (['access', 'test-idp', 'x' * 129, '--config', cfg], 'at most 128'),
                       (['access', 'test-idp', 'Authentik', '--grace', '1d', '--config', cfg],
                        '--grace is for rotate-keys')):
        rc, out, err = pst(t, *args)
        t.eq(rc, 2, ' '.join(args[:3]))
        t.contains(err, want)
        t.eq(out, '')
    rc, out, _ = pst(t, 'access', 'test-idp', '--help')
    t.eq(rc, 0)
    t.contains(out, 'Exit status: 0 when every check passes, 1 when one fails, 2 on a usage error')


if __name__ == '__main__':
    h.main()
