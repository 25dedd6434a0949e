// A real OpenID Connect provider for Garde's SSO test: panva's oidc-provider (certified).
// Usage: node provider.mjs PORT REDIRECT_URI CLIENT_ID CLIENT_SECRET ACCOUNTS_JSON
// ACCOUNTS_JSON maps an account id (typed into the dev login form) to its claims, e.g.
// {"psc-7f3a": {"rpps": "10999000002"}}. Prints "ready <issuer>" once listening.
//
// Test-only steering (POST /test/mode with body "forge" | "expired" | "none"): the token
// endpoint's ID token is then re-signed with a key the provider does not publish, or dated
// an hour back with the real key, so Garde's refusal of both can be tested.
import { Provider } from "oidc-provider";
import { SignJWT, decodeJwt, exportJWK, generateKeyPair, importJWK } from "jose";

const [port, redirectUri, clientId, clientSecret, accountsJson] = process.argv.slice(2);
const accounts = JSON.parse(accountsJson);
const issuer = `http://127.0.0.1:${port}`;

const { privateKey } = await generateKeyPair("RS256", { extractable: true });
const jwk = { ...(await exportJWK(privateKey)), kid: "k1", alg: "RS256", use: "sig" };
const signingKey = await importJWK(jwk, "RS256");
const { privateKey: rogueKey } = await generateKeyPair("RS256");

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      // Garde's /sso/logout ends the provider's session too, then comes back here
      post_logout_redirect_uris: [new URL("/sso/signed-out", redirectUri).href],
      response_types: ["code"],
      grant_types: ["authorization_code"],
      token_endpoint_auth_method: "client_secret_basic",
    },
  ],
  jwks: { keys: [jwk] },
  pkce: { required: () => true }, // S256 only is the library's default
  claims: { openid: ["sub", "rpps"] },
  conformIdTokenClaims: false, // the rpps claim rides in the ID token, where Garde reads it
  features: { devInteractions: { enabled: true } },
  async findAccount(_ctx, id) {
    if (!(id in accounts)) return undefined;
    return { accountId: id, claims: async () => ({ sub: id, ...accounts[id] }) };
  },
});

let mode = "none";
provider.use(async (ctx, next) => {
  if (ctx.path === "/test/mode" && ctx.method === "POST") {
    mode = await new Promise((done) => {
      let body = "";
      ctx.req.on("data", (c) => (body += c));
      ctx.req.on("end", () => done(body.trim()));
    });
    ctx.body = { mode };
    return;
  }
  await next();
  if (ctx.path === "/token" && mode !== "none" && ctx.body && ctx.body.id_token) {
    const claims = decodeJwt(ctx.body.id_token);
    const now = Math.floor(Date.now() / 1000);
    if (mode === "expired") Object.assign(claims, { iat: now - 7200, exp: now - 3600 });
    const key = mode === "forge" ? rogueKey : signingKey;
    ctx.body = {
      ...ctx.body,
      id_token: await new SignJWT(claims).setProtectedHeader({ alg: "RS256", kid: "k1" }).sign(key),
    };
  }
});

provider.listen(Number(port), "127.0.0.1", () => console.log(`ready ${issuer}`));
