"""The management commands on one data directory: apply (idempotent, one transaction, errors
with file:line:field), user add/passwd/list/del, group add/list/del, provider show, events,
and `serve` applying the objects of its config file."""
import os
import subprocess

import harness as h

OBJECTS = """\
groups:
  - { name: staff }
users:
  - { username: alice, name: Alice Example, email: alice@example.com, password: "s3cret-pass", groups: [staff] }
providers:
  - name: Cloudflare
    authorization_flow: default-provider-authorization-implicit-consent
    client_type: confidential
    client_id: cf-client
    client_secret: cf-secret-0123456789
    redirect_uris:
      - { matching_mode: strict, url: "https://myteam.cloudflareaccess.com/cdn-cgi/access/callback" }
    signing_key: postern Self-signed Certificate
  - { name: Generated, redirect_uris: [ { matching_mode: regex, url: "https://app\\\\.example\\\\.com/cb/[0-9]+" } ] }
applications:
  - { name: Cloudflare, slug: cloudflare, provider: Cloudflare, policy_engine_mode: any }
  - { name: Staff only, slug: staff-app, provider: Generated, bindings: [ { group: staff } ] }
"""


def setup():
    d = h.tmpdir()
    cfg = os.path.join(d, 'postern.yaml')
    with open(cfg, 'w') as f:
        f.write('server: { data_dir: %s }\nidp: { public_url: "http://auth.localhost:9000/" }\n'
                % os.path.join(d, 'data'))
    objs = os.path.join(d, 'objects.yaml')
    with open(objs, 'w') as f:
        f.write(OBJECTS)
    return d, cfg, objs


def pst(*args, stdin=None):
    p = subprocess.run([h.postern_bin()] + list(args), input=stdin, capture_output=True,
                       timeout=60, text=True)
    return p.returncode, p.stdout, p.stderr


@h.test
def apply_is_idempotent_and_keeps_generated_secrets(t):
    d, cfg, objs = setup()
    rc, out, err = pst('apply', '--config', cfg, objs)
    t.eq(rc, 0, err)
    t.contains(out, '6 created, 0 updated')
    rc, first, _ = pst('provider', 'show', 'Generated', '--config', cfg)
    t.eq(rc, 0)
    rc, out, err = pst('apply', '--config', cfg, objs)
    t.eq(rc, 0, err)
    t.contains(out, '0 created')
    rc, second, _ = pst('provider', 'show', 'Generated', '--config', cfg)
    t.eq(second, first, 'a second apply changed the generated client id or secret')
    secret = [l for l in first.splitlines() if l.startswith('Client Secret:')][0].split()[-1]
    t.ge(len(secret), 40)


@h.test
def provider_show_prints_what_a_relying_party_needs(t):
    d, cfg, objs = setup()
    t.eq(pst('apply', '--config', cfg, objs)[0], 0)
    rc, out, _ = pst('provider', 'show', 'Cloudflare', '--config', cfg)
    t.eq(rc, 0)
    for line in ('Client ID:           cf-client',
                 'Client Secret:       cf-secret-0123456789',
                 'Authorize URL:       http://auth.localhost:9000/application/o/authorize/',
                 'Token URL:           http://auth.localhost:9000/application/o/token/',
                 'Userinfo URL:        http://auth.localhost:9000/application/o/userinfo/',
                 'Certificate (JWKS):  http://auth.localhost:9000/application/o/cloudflare/jwks/',
                 'Discovery URL:       http://auth.localhost:9000/application/o/cloudflare/'
                 '.well-known/openid-configuration'):
        t.contains(out, line)
    rc, _, err = pst('provider', 'show', 'Nope', '--config', cfg)
    t.eq(rc, 1)
    t.contains(err, 'no provider named "Nope"')


@h.test
def apply_errors_name_file_line_field_and_change_nothing(t):
    d, cfg, _ = setup()
    cases = [
        ('users:\n  - { username: bob, email: "not an email" }\n',
         ':2: users[0].email'),
        ('providers:\n  - name: P\n    client_type: secret\n',
         ':3: providers[0].client_type: expected one of confidential, public'),
        ('providers:\n  - name: P\n    redirect_uris:\n      - { matching_mode: strict, url: "/relative" }\n',
         ':4: providers[0].redirect_uris[0].url'),
        ('providers:\n  - name: P\n    redirect_uris: [ { matching_mode: regex, url: "https://(a" } ]\n',
         'providers[0].redirect_uris[0].url: not a valid POSIX extended regular expression'),
        ('applications:\n  - { name: T, slug: token }\n', 'applications[0]'),
        ('applications:\n  - { name: A, slug: a, provider: Missing }\n',
         ':2: applications[0].provider: no provider named "Missing"'),
        ('groups:\n  - { name: fine }\nusers:\n  - { username: carol, groups: [nope] }\n',
         'users[0]'),
        ('frobs: []\n', ':1: frobs: unknown field'),
    ]
    for i, (text, want) in enumerate(cases):
        path = os.path.join(d, 'bad%d.yaml' % i)
        with open(path, 'w') as f:
            f.write(text)
        rc, out, err = pst('apply', '--config', cfg, path)
        t.eq(rc, 1, text)
        t.contains(err, 'bad%d.yaml' % i)
        t.contains(err, want)
    # The group "fine" of the refused file was rolled back with the rest of it.
    rc, out, _ = pst('group', 'list', '--config', cfg)
    t.ok('fine' not in out, 'a refused file left a group behind:\n' + out)


@h.test
def users_and_groups_from_the_command_line(t):
    d, cfg, _ = setup()
    t.eq(pst('group', 'add', 'ops', '--config', cfg)[0], 0)
    rc, out, err = pst('user', 'add', 'bob', '--name', 'Bob B', '--email', 'bob@example.com',
                       '--group', 'ops', '--password', '--config', cfg, stdin='correct horse\n')
    t.eq(rc, 0, err)
    t.contains(out, 'user bob created')
    rc, out, _ = pst('user', 'list', '--config', cfg)
    t.contains(out, 'bob')
    t.contains(out, 'bob@example.com')
    t.contains(out, 'ops')
    rc, out, _ = pst('group', 'list', '--config', cfg)
    t.contains(out, 'ops')
    rc, _, err = pst('user', 'passwd', 'bob', '--config', cfg, stdin='short\n')
    t.eq(rc, 1)
    t.ok(err.strip() != '', 'a refused password gave no reason')
    rc, _, err = pst('user', 'passwd', 'bob', '--config', cfg, stdin='a much better one\n')
    t.eq(rc, 0, err)
    t.eq(pst('user', 'del', 'bob', '--config', cfg)[0], 0)
    rc, _, err = pst('user', 'del', 'bob', '--config', cfg)
    t.eq(rc, 1)
    t.contains(err, 'no user named "bob"')
    t.eq(pst('group', 'del', 'ops', '--config', cfg)[0], 0)
    rc, _, err = pst('user', 'frob', '--config', cfg)
    t.eq(rc, 2)


@h.test
def serve_applies_the_config_objects_and_events_are_listed(t):
    d, _, _ = setup()
    port = h.free_port()
    text = ('server: { listen: ["127.0.0.1:%d"], data_dir: %s }\n'
            'idp: { public_url: "http://auth.localhost:%d" }\n' % (port, os.path.join(d, 'data'), port)
            + OBJECTS)
    srv = h.start_postern(text)
    r = h.request(port, 'GET', '/application/o/cloudflare/.well-known/openid-configuration',
                  host='auth.localhost:%d' % port)
    t.eq(r.status, 200)
    t.contains(r.body.decode(), '"issuer":"http://auth.localhost:%d/application/o/cloudflare/"' % port)
    t.eq(srv.stop(), 0)
    cfg = os.path.join(d, 'serve.yaml')
    with open(cfg, 'w') as f:
        f.write('server: { data_dir: %s }\n' % os.path.join(d, 'data'))
    rc, out, err = pst('events', '--config', cfg, '--limit', '5')
    t.eq(rc, 0, err)


@h.test
def an_ec_keypair_signs_es256_tokens(t):
    """certificate_keypairs makes an EC P-256 pair once; a provider using it signs ES256."""
    import base64
    import json
    from jwcrypto import jwk, jwt
    d, _, _ = setup()
    port = h.free_port()
    text = ('server: { listen: ["127.0.0.1:%d"], data_dir: %s }\n'
            'idp: { public_url: "http://127.0.0.1:%d" }\n'
            'certificate_keypairs:\n  - { name: ec signing, algorithm: ES256 }\n'
            'providers:\n  - { name: EC, client_id: ec-client, client_secret: ec-secret-0123456789,'
            ' signing_key: ec signing }\n'
            'applications:\n  - { name: EC app, slug: ec-app, provider: EC }\n'
            % (port, os.path.join(d, 'data'), port))
    srv = h.start_postern(text)
    r = h.request(port, 'GET', '/application/o/ec-app/jwks/')
    t.eq(r.status, 200)
    keys = json.loads(r.body)['keys']
    t.eq(len(keys), 1)
    t.eq(keys[0]['kty'], 'EC')
    t.eq(keys[0]['alg'], 'ES256')
    t.eq(keys[0]['crv'], 'P-256')
    basic = base64.b64encode(b'ec-client:ec-secret-0123456789').decode()
    r = h.request(port, 'POST', '/application/o/token/',
                  headers={'Authorization': 'Basic ' + basic,
                           'Content-Type': 'application/x-www-form-urlencoded'},
                  body='grant_type=client_credentials&scope=openid')
    t.eq(r.status, 200, r.body)
    token = json.loads(r.body)['access_token']
    header = json.loads(base64.urlsafe_b64decode(token.split('.')[0] + '=='))
    t.eq(header['alg'], 'ES256')
    t.eq(header['kid'], keys[0]['kid'])
    key = jwk.JWK(**keys[0])
    verified = jwt.JWT(jwt=token, key=key, algs=['ES256'])
    t.eq(json.loads(verified.claims)['client_id'], 'ec-client')
    t.eq(srv.stop(), 0)
    # Applying the same pair again keeps it; another algorithm under the same name is refused.
    srv = h.start_postern(text)
    r = h.request(port, 'GET', '/application/o/ec-app/jwks/')
    t.eq(json.loads(r.body)['keys'][0]['kid'], keys[0]['kid'])
    t.eq(srv.stop(), 0)
    cfg = os.path.join(d, 'plain.yaml')
    with open(cfg, 'w') as f:
        f.write('server: { data_dir: %s }\n' % os.path.join(d, 'data'))
    bad = os.path.join(d, 'rsa.yaml')
    with open(bad, 'w') as f:
        f.write('certificate_keypairs:\n  - { name: ec signing, algorithm: RS256 }\n')
    rc, _, err = pst('apply', '--config', cfg, bad)
    t.eq(rc, 1)
    t.contains(err, 'rsa.yaml:2: certificate_keypairs[0].algorithm: the pair "ec signing" exists '
               'with ES256')


if __name__ == '__main__':
    h.main()
