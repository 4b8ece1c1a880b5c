"""bench/nodes/tokens.py: one client_credentials token checked across nodes, for bench/nodes/run.

    tokens.py ISSUE_PORT CHECK_PORT PUBLIC_PORT

Asks the token endpoint of the node on 127.0.0.1:ISSUE_PORT for a client_credentials token
(client_secret_basic, the client of bench/gate/login.py's config), then at the node on
CHECK_PORT (the same node for a single one): verifies it against that node's JWKS (RS256, kid,
typ at+jwt, iss, aud: RFC 9068 section 4), introspects it (active, RFC 7662 section 2.2), revokes
it (RFC 7009 section 2.1), and introspects it again at the issuing node: it must be inactive
there too, since every node reads the same store. Both nodes are addressed by the public host
name auth.localhost:PUBLIC_PORT (their common idp.public_url), on their own ports. Prints
nothing; exits non-zero with the reason on failure.
"""

import json
import sys

import requests
from jwcrypto import jwk, jwt

CLIENT = ('cf-client', 'cf-secret-0123456789')
SLUG = 'cloudflare'
TIMEOUT_S = 10


def fail(msg):
    print('bench/nodes: tokens: ' + msg, file=sys.stderr)
    sys.exit(1)


def post(port, host, path, data):
    r = requests.post('http://127.0.0.1:%d/application/o/%s/' % (port, path), data=data,
                      auth=CLIENT, headers={'Host': host}, timeout=TIMEOUT_S)
    if r.status_code != 200:
        fail('POST %s at port %d: %d %s' % (path, port, r.status_code, r.text[:200]))
    return r


def active(port, host, token):
    return post(port, host, 'introspect', {'token': token}).json().get('active')


def main(argv):
    if len(argv) != 3:
        fail('usage: tokens.py ISSUE_PORT CHECK_PORT PUBLIC_PORT')
    issue, check, public = (int(a) for a in argv)
    host = 'auth.localhost:%d' % public
    token = post(issue, host, 'token', {'grant_type': 'client_credentials'}).json()
    if token.get('token_type') != 'Bearer' or not token.get('access_token'):
        fail('token response %r' % token)
    at = token['access_token']
    r = requests.get('http://127.0.0.1:%d/application/o/%s/jwks/' % (check, SLUG),
                     headers={'Host': host}, timeout=TIMEOUT_S)
    keys = jwk.JWKSet.from_json(r.text)
    iss = 'http://%s/application/o/%s/' % (host, SLUG)
    t = jwt.JWT(jwt=at, key=keys, algs=['RS256'],
                check_claims={'iss': iss, 'aud': CLIENT[0], 'exp': None})
    if json.loads(t.header).get('typ') != 'at+jwt':
        fail('access token header %s' % t.header)
    if active(check, host, at) is not True:
        fail('the token of port %d is not active at port %d' % (issue, check))
    post(check, host, 'revoke', {'token': at})
    if active(issue, host, at) is not False:
        fail('the token revoked at port %d is still active at port %d' % (check, issue))


if __name__ == '__main__':
    main(sys.argv[1:])
