// A real OpenID provider for tower-oauth's end-to-end tests.
//
//   node provider.mjs PORT        (0: any free port)
//
// Prints `oidc-provider listening on http://127.0.0.1:PORT` once it accepts connections, and
// serves there with discovery, PKCE required, RFC 9207 `iss` in
// authorization responses, RS256 and ES256 signing keys, and clients using
// client_secret_basic. There is no browser interaction: `/interaction/:uid` logs in the user
// named by the authorization request's `login_hint` (default `alice`) and grants the
// requested scopes, so tests drive the whole flow over plain HTTP.
//
// Clients (secret = `${client_id}-secret`), redirect URIs
// `https://app.example.test/oauth/{op,op2,es,short}/callback`:
//   rp-rs256  ID tokens signed RS256
//   rp-es256  ID tokens signed ES256
//   rp-short  RS256, access tokens live 5 s (refresh tests)
//   api-m2m   client_credentials only (scope `api:read` of the resource server below)
//   api-dpop  as api-m2m, its access tokens DPoP-bound (RFC 9449: `cnf.jkt`; token requests
//             must carry a `DPoP` proof)
//
// Back-channel logout tests register their own client (open dynamic registration at `/reg`)
// with a `backchannel_logout_uri` on their own listener; `/session/end` ends the provider's
// session (RP-Initiated Logout) and posts a logout token to each such client of the session.
// A client registered with `client_name: 'no-sub'` gets logout tokens without `sub`: naming
// the session alone (Back-Channel Logout §2.4), or nothing without `backchannel_logout_session_required`.
//   intro-rs     a resource server asking the RFC 7662 introspection endpoint about tokens
//   intro-app    client_credentials only, opaque access tokens with scopes `read write`
//   intro-dpop   as intro-app, its access tokens DPoP-bound
//   intro-short  as intro-app, access tokens live 3 s
//   intro-pkjwt  as intro-rs, authenticating with private_key_jwt (RFC 7523, the key of
//                tower-introspect/tests/data/client-p256.pem), offered RFC 9701 JWT answers
//   (introspection and RFC 7009 revocation are enabled: /token/introspection, /token/revocation)
//
// Resource server `urn:towerauth:api` (RFC 8707 `resource=`): JWT access tokens (RFC 9068,
// `typ: at+jwt`) signed ES256, scope `api:read`. Without `resource=` access tokens stay opaque.
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import Provider, { errors } from 'oidc-provider';

const requested = Number(process.argv[2]);
if (!Number.isInteger(requested) || requested < 0) {
  console.error('usage: node provider.mjs PORT');
  process.exit(2);
}
// Bind first (port 0 picks a free one without races), then name the issuer after the port.
const server = createServer();
await new Promise((resolve) => server.listen(requested, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });

const redirectUris = ['op', 'op2', 'es', 'short'].map(
  (name) => `https://app.example.test/oauth/${name}/callback`,
);
const client = (clientId, alg) => ({
  client_id: clientId,
  client_secret: `${clientId}-secret`,
  redirect_uris: redirectUris,
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
  id_token_signed_response_alg: alg,
});

const API = 'urn:towerauth:api';
const m2m = {
  client_id: 'api-m2m',
  client_secret: 'api-m2m-secret',
  redirect_uris: [],
  grant_types: ['client_credentials'],
  response_types: [],
  token_endpoint_auth_method: 'client_secret_basic',
};

const dpopClient = { ...m2m, client_id: 'api-dpop', client_secret: 'api-dpop-secret', dpop_bound_access_tokens: true };
const introspection = (clientId) => ({
  ...m2m,
  client_id: clientId,
  client_secret: `${clientId}-secret`,
  scope: 'read write',
});

const pkjwt = {
  client_id: 'intro-pkjwt',
  redirect_uris: [],
  grant_types: ['client_credentials'],
  response_types: [],
  token_endpoint_auth_method: 'private_key_jwt',
  jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: '13mmHySQWKSbWSOo4TR6_EgMmwISgFmQm_ED3YXArqM', y: 'O1HcUHbSa2bFtuWVzCEkSOCi-TFnXx4ZIJoni0GOIRA', use: 'sig', alg: 'ES256' }] },
  introspection_signed_response_alg: 'ES256',
};

const provider = new Provider(issuer, {
  clients: [
    client('rp-rs256', 'RS256'),
    client('rp-es256', 'ES256'),
    client('rp-short', 'RS256'),
    m2m,
    dpopClient,
    introspection('intro-rs'),
    introspection('intro-app'),
    introspection('intro-short'),
    pkjwt,
    { ...introspection('intro-dpop'), dpop_bound_access_tokens: true },
  ],
  scopes: ['openid', 'offline_access', 'read', 'write'],
  jwks: { keys: [{ ...rsa, kid: 'rsa-1', use: 'sig', alg: 'RS256' }, { ...ec, kid: 'ec-1', use: 'sig', alg: 'ES256' }] },
  cookies: { keys: ['tower-oauth-test-cookie-key-0123456789'] },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    backchannelLogout: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    registration: { enabled: true },
    dPoP: { enabled: true },
    introspection: { enabled: true },
    jwtIntrospection: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      async getResourceServerInfo(_ctx, resource) {
        if (resource !== API) {
          throw new errors.InvalidTarget();
        }
        return {
          audience: API,
          scope: 'api:read',
          accessTokenTTL: 600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        };
      },
    },
  },
  pkce: { required: () => true },
  // Back-channel logout tokens go to the tests' loopback listeners, which oidc-provider's
  // SSRF guard (its fetch dispatcher) refuses: this test provider fetches without it.
  fetch: (url, options) => {
    const { dispatcher: _ssrfGuard, ...rest } = options;
    return globalThis.fetch(url, rest);
  },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  issueRefreshToken: async (_ctx, c) => c.grantTypeAllowed('refresh_token'),
  ttl: {
    AccessToken: (_ctx, _token, c) => (c && c.clientId === 'rp-short' ? 5 : 600),
    ClientCredentials: (_ctx, _token, c) => (c && c.clientId === 'intro-short' ? 3 : 600),
    AuthorizationCode: 60,
    IdToken: 600,
    Interaction: 600,
    Session: 600,
    Grant: 600,
    RefreshToken: 600,
  },
  async findAccount(_ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: `${id}@example.test`, email_verified: true, name: `User ${id}` };
      },
    };
  },
});

provider.use(async (ctx, next) => {
  const match = ctx.path.match(/^\/interaction\/([^/]+)$/);
  if (!match) {
    return next();
  }
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  let result;
  if (details.prompt.name === 'login') {
    result = { login: { accountId: details.params.login_hint || 'alice' } };
  } else {
    const grant = new provider.Grant({
      accountId: details.session.accountId,
      clientId: details.params.client_id,
    });
    grant.addOIDCScope(details.params.scope);
    result = { consent: { grantId: await grant.save() } };
  }
  const url = await provider.interactionResult(ctx.req, ctx.res, result, {
    mergeWithLastSubmission: false,
  });
  ctx.redirect(url);
  ctx.status = 303;
  return undefined;
});

const backchannelLogout = provider.Client.prototype.backchannelLogout;
provider.Client.prototype.backchannelLogout = function withoutSub(sub, sid) {
  return backchannelLogout.call(this, this.clientName === 'no-sub' ? undefined : sub, sid);
};

server.on('request', provider.callback());
console.log(`oidc-provider listening on ${issuer}`);
// A failed back-channel logout shows in the test's output.
provider.on('backchannel.error', (_ctx, error) => {
  console.error(`backchannel logout failed: ${error.message} ${error.cause ?? ""}`);
});
