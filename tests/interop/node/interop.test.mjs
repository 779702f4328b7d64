// Real OAuth/OIDC clients from npm against a running Meridian. run_node.py starts the server and
// passes MERIDIAN_DOC (the first tenant's credentials file) and NODE_EXTRA_CA_CERTS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as oidc from 'openid-client';
import * as jose from 'jose';
import { ConfidentialClientApplication } from '@azure/msal-node';

const doc = JSON.parse(readFileSync(process.env.MERIDIAN_DOC, 'utf8'));
const app = doc.bootstrapApplication;

async function graphGet(token, path) {
  const r = await fetch(doc.graphBaseUrl + path, { headers: { Authorization: 'Bearer ' + token } });
  return { status: r.status, body: await r.json() };
}

test('openid-client discovers the tenant and runs the client-credentials grant', async () => {
  const config = await oidc.discovery(new URL(doc.authority + '/v2.0'), app.appId, app.clientSecret);
  assert.equal(config.serverMetadata().issuer, doc.authority + '/v2.0');
  const tokens = await oidc.clientCredentialsGrant(config, { scope: doc.graphScope });
  assert.equal(tokens.token_type.toLowerCase(), 'bearer');
  const users = await graphGet(tokens.access_token, '/users');
  assert.equal(users.status, 200);
  assert.ok(users.body.value.length >= 1);
});

test('msal-node acquires a token by client credential', async () => {
  const msal = new ConfidentialClientApplication({
    auth: {
      clientId: app.appId,
      clientSecret: app.clientSecret,
      authority: doc.authority,
      knownAuthorities: [new URL(doc.authority).host],
    },
  });
  const result = await msal.acquireTokenByClientCredential({ scopes: [doc.graphScope] });
  assert.ok(result.accessToken);
  const org = await graphGet(result.accessToken, '/organization');
  assert.equal(org.status, 200);
  assert.equal(org.body.value[0].id, doc.tenantId);
});

test('jose verifies the access token against the published JWKS', async () => {
  const meta = await (await fetch(doc.openidConfiguration)).json();
  const config = await oidc.discovery(new URL(doc.authority + '/v2.0'), app.appId, app.clientSecret);
  const { access_token } = await oidc.clientCredentialsGrant(config, { scope: doc.graphScope });
  const jwks = jose.createRemoteJWKSet(new URL(meta.jwks_uri));
  const { payload, protectedHeader } = await jose.jwtVerify(access_token, jwks, {
    issuer: meta.issuer,
    audience: doc.graphScope.replace('/.default', ''),
    algorithms: ['RS256'],
  });
  assert.equal(protectedHeader.alg, 'RS256');
  assert.equal(payload.tid, doc.tenantId);
  assert.equal(payload.azp, app.appId);
  // A token whose payload was changed does not verify.
  const [h, p, s] = access_token.split('.');
  const forged = JSON.parse(Buffer.from(p, 'base64url'));
  forged.tid = '00000000-0000-4000-8000-000000000000';
  const tampered = [h, Buffer.from(JSON.stringify(forged)).toString('base64url'), s].join('.');
  await assert.rejects(jose.jwtVerify(tampered, jwks));
});
