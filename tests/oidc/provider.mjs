// A real OpenID Provider for aiplane's tests: node provider.mjs CONFIG.json
// CONFIG: {port, issuer, keys: [private JWKs, the first signs], accounts: FILE, clients: [...],
//          audience, accessTokenTTL}
// FILE (read again on every token, so a test can move a user out of a group):
//   {"users": {"alice": {"email": ..., "name": ..., "groups": [...]}}, "clients": {"ci-bot": {"groups": [...]}}}
import fs from 'node:fs';
import http from 'node:http';
import Provider from 'oidc-provider';

const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const accounts = () => JSON.parse(fs.readFileSync(config.accounts, 'utf8'));
const RESOURCE = 'urn:aiplane';

function person(id) {
  const user = accounts().users[id];
  return user ? { sub: id, email: user.email, name: user.name, groups: user.groups } : undefined;
}

const provider = new Provider(config.issuer, {
  clients: config.clients,
  jwks: { keys: config.keys },
  findAccount: async (ctx, id) => (person(id) ? { accountId: id, claims: async () => person(id) } : undefined),
  claims: { openid: ['sub'], email: ['email'], profile: ['name'], groups: ['groups'] },
  scopes: ['openid', 'offline_access', 'email', 'profile', 'groups', 'api'],
  pkce: { required: () => true },
  ttl: { AccessToken: config.accessTokenTTL, ClientCredentials: config.accessTokenTTL, DeviceCode: 300 },
  features: {
    devInteractions: { enabled: true },
    deviceFlow: { enabled: true },
    clientCredentials: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => RESOURCE,
      useGrantedResource: async () => true,
      getResourceServerInfo: async () => ({
        scope: 'api', audience: config.audience, accessTokenFormat: 'jwt', accessTokenTTL: config.accessTokenTTL,
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
  extraTokenClaims: async (ctx, token) => {
    if (token.accountId) {
      const p = person(token.accountId);
      return p ? { groups: p.groups, email: p.email, name: p.name } : undefined;
    }
    const service = accounts().clients?.[token.clientId];
    return service ? { groups: service.groups } : undefined;
  },
  rotateRefreshToken: true,
});
provider.proxy = false;

const server = http.createServer(provider.callback());
server.listen(config.port, '127.0.0.1', () => console.log(`listening ${config.issuer}`));
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
