// An OpenID provider that is not Postern's, for the gateway's e2e tests: the OpenID Certified
// `oidc-provider` (npm, major 8), with its development login form (any username, any
// password). Started by the tests with:
//
//   node tests/e2e/oidc_provider.mjs CONFIG.json
//
// CONFIG: { "port": 0, "issuer": "http://idp.localhost:PORT", "clients": [ { client_id,
// client_secret, redirect_uris, id_token_signed_response_alg? } ], "groups": { "login":
// ["group", ...] }, "jwks": { "keys": [ private JWKs ] }? }. With port 0 the real port is
// printed; the issuer may contain the text PORT, replaced by it. Without jwks, oidc-provider
// makes one RSA development key (RS256 only); an ES256 or PS256 client needs a key for it. Prints "listening PORT" on stdout once ready. The ID token carries the
// claims of the granted scopes (email, profile, groups), as Authentik's does.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';

const require = createRequire(new URL('../node/', import.meta.url));
const { default: Provider } = await import(require.resolve('oidc-provider'));

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const groups = cfg.groups || {};

function account(id) {
  const email = id.includes('@') ? id : `${id}@example.org`;
  return {
    accountId: id,
    async claims() {
      return {
        sub: id,
        email,
        email_verified: true,
        name: `User ${id}`,
        preferred_username: id,
        groups: groups[id] || ['users'],
      };
    },
  };
}

const server = createServer();
await new Promise((resolve) => { server.listen(cfg.port || 0, '127.0.0.1', resolve); });
const { port } = server.address();
const issuer = cfg.issuer.replace('PORT', String(port));

const provider = new Provider(issuer, {
  clients: cfg.clients.map((c) => ({
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    ...c,
  })),
  findAccount: (ctx, id) => account(id),
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    groups: ['groups'],
  },
  scopes: ['openid', 'email', 'profile', 'groups', 'offline_access'],
  conformIdTokenClaims: false, // scope claims in the ID token too
  pkce: { required: () => false },
  cookies: { keys: ['postern-test-cookie-key-not-secret'] },
  features: { devInteractions: { enabled: true } },
  enabledJWA: {
    idTokenSigningAlgValues: ['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA', 'HS256'],
  },
  jwks: cfg.jwks, // undefined: a development key is generated
});
provider.proxy = false;
server.on('request', provider.callback());
process.stdout.write(`listening ${port}\n`);
process.on('SIGTERM', () => { server.close(); process.exit(0); });
