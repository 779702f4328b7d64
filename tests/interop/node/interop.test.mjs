// Real OAuth/OIDC clients from npm against a running Meridian. run_node.py starts the server and
// passes MERIDIAN_DOC (the first tenant's credentials file) and NODE_EXTRA_CA_CERTS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as oidc from 'openid-client';
import * as jose from 'jose';
import { ConfidentialClientApplication, PublicClientApplication } from '@azure/msal-node';
import { doc, app, graphGet, graphPost, adminConsent, registerAppAndUser } from './meridian.mjs';

// What a browser does on the sign-in pages: keeps the cookies they set, and posts a page's form
// with the values its fields hold and what the user types.
class Browser {
  cookies = new Map();
  async fetch(url, init = {}) {
    const cookie = [...this.cookies].map(([k, v]) => k + '=' + v).join('; ');
    const r = await fetch(url, { ...init, redirect: 'manual', headers: { cookie } });
    for (const c of r.headers.getSetCookie()) {
      const [pair] = c.split(';');
      this.cookies.set(pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1));
    }
    this.url = url;
    this.html = r.status === 302 ? '' : await r.text();
    return r;
  }
  get(url) { return this.fetch(url); }
  submit(typed = {}) {
    const unescape = (v) => v.replaceAll('&quot;', '"').replaceAll('&#39;', "'").replaceAll('&lt;', '<')
      .replaceAll('&gt;', '>').replaceAll('&amp;', '&');
    const form = new URLSearchParams();
    for (const [tag] of this.html.matchAll(/<input [^>]*>/g)) {
      const name = tag.match(/name="([^"]*)"/);
      const value = tag.match(/value="([^"]*)"/);
      if (name && value && !(name[1] in typed)) form.append(unescape(name[1]), unescape(value[1]));
    }
    for (const [k, v] of Object.entries(typed)) form.append(k, v);
    const action = new URL(unescape(this.html.match(/<form method="post" action="([^"]+)"/)[1]), this.url);
    return this.fetch(action, { method: 'POST', body: form });
  }
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

test('openid-client runs the authorization code flow with PKCE through the sign-in page', async () => {
  const redirect = 'https://interop.example/callback';
  const { app: web, username, password } = await registerAppAndUser({ web: { redirectUris: [redirect] } });
  const secret = await graphPost('/applications/' + web.id + '/addPassword', {});
  const config = await oidc.discovery(new URL(doc.authority + '/v2.0'), web.appId, secret.secretText);
  assert.deepEqual(config.serverMetadata().code_challenge_methods_supported, ['S256']);
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirect, scope: 'openid profile offline_access',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    state, nonce,
  });
  const browser = new Browser();
  const page = await browser.get(url);
  assert.equal(page.status, 200);
  await browser.submit({ username, password });
  assert.ok(browser.html.includes('(User.Read)'), browser.html);  // the sign-in's consent
  const back = await browser.submit({ step: 'consent' });
  assert.equal(back.status, 302, await back.text());
  const tokens = await oidc.authorizationCodeGrant(config, new URL(back.headers.get('location')), {
    pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce,
  });
  const claims = tokens.claims();
  assert.equal(claims.preferred_username, username);
  assert.equal(claims.tid, doc.tenantId);
  assert.ok(tokens.refresh_token);
  // The ID token verifies against the JWKS, and the refresh token works once.
  const meta = config.serverMetadata();
  await jose.jwtVerify(tokens.id_token, jose.createRemoteJWKSet(new URL(meta.jwks_uri)), {
    issuer: meta.issuer, audience: web.appId,
  });
  // UserInfo answers for the same subject; Graph's /me is the user.
  const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
  assert.equal(info.preferred_username, username);
  const me = await graphGet(tokens.access_token, '/me');
  assert.equal(me.status, 200);
  assert.equal(me.body.userPrincipalName, username);
  const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token);
  assert.ok(refreshed.access_token);
  await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token));
  // Logout ends the session and returns to the application's registered URI with its state.
  const bye = await browser.get(oidc.buildEndSessionUrl(config, {
    post_logout_redirect_uri: redirect, id_token_hint: tokens.id_token, state: 'bye',
  }).href);
  assert.equal(bye.status, 302);
  assert.equal(bye.headers.get('location'), redirect + '?state=bye');
  const again = await browser.get(url.href.replace(/&prompt=[^&]*/, '') + '&prompt=none');
  assert.match(again.headers.get('location'), /error=login_required/);
});

test('msal-node acquires a user token by username and password (a public client)', async () => {
  const { app: pub, username, password } = await registerAppAndUser({ isFallbackPublicClient: true });
  await adminConsent(pub.servicePrincipal, 'User.Read');  // a password grant cannot ask
  const msal = new PublicClientApplication({
    auth: { clientId: pub.appId, authority: doc.authority, knownAuthorities: [new URL(doc.authority).host] },
  });
  const result = await msal.acquireTokenByUsernamePassword({ scopes: ['User.Read'], username, password });
  assert.ok(result.accessToken);
  assert.equal(result.account.username, username);
  assert.equal(result.idTokenClaims.preferred_username, username);
  // The refresh token MSAL cached redeems for a new access token.
  const again = await msal.acquireTokenSilent({ account: result.account, scopes: ['User.Read'], forceRefresh: true });
  assert.ok(again.accessToken);
  await assert.rejects(msal.acquireTokenByUsernamePassword({ scopes: ['User.Read'], username, password: 'wrong' }));
});

test('msal-node acquires a user token by device code; the user signs in on the verification page', async () => {
  const { app: device, username, password } = await registerAppAndUser({ isFallbackPublicClient: true });
  const msal = new PublicClientApplication({
    auth: { clientId: device.appId, authority: doc.authority, knownAuthorities: [new URL(doc.authority).host] },
  });
  let signedIn;
  const result = await msal.acquireTokenByDeviceCode({
    scopes: ['User.Read'],
    deviceCodeCallback: (response) => {
      assert.ok(response.message.includes(response.userCode));
      // The user, on another device: the page, the code, the application confirmed, a sign-in.
      signedIn = (async () => {
        const browser = new Browser();
        await browser.get(response.verificationUri);
        await browser.submit({ user_code: response.userCode });
        assert.ok(browser.html.includes(device.displayName), browser.html);
        await browser.submit({ step: 'confirm' });
        await browser.submit({ username, password });
        assert.ok(browser.html.includes('(User.Read)'), browser.html);  // consent
        await browser.submit({ step: 'consent' });
        assert.ok(browser.html.includes('You have signed in'), browser.html);
      })();
    },
  });
  await signedIn;
  assert.equal(result.account.username, username);
  assert.ok(result.accessToken);
});

test('msal-node acquires a token with a certificate (private_key_jwt, PS256 and x5t#S256)', async () => {
  // A workload identity: a certificate in the application's keyCredentials, no secret.
  const { execFileSync } = await import('node:child_process');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { createHash, createPrivateKey } = await import('node:crypto');
  const dir = mkdtempSync('/tmp/meridian-cert-');
  let der, privateKey;
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', dir + '/key.pem',
      '-out', dir + '/cert.pem', '-days', '2', '-subj', '/CN=workload'], { stdio: 'ignore' });
    der = execFileSync('openssl', ['x509', '-in', dir + '/cert.pem', '-outform', 'DER']);
    privateKey = createPrivateKey(readFileSync(dir + '/key.pem')).export({ type: 'pkcs8', format: 'pem' });
  } finally {
    rmSync(dir, { recursive: true });
  }
  const created = await graphPost('/applications', { displayName: 'Interop workload ' + Date.now() });
  await graphPost('/servicePrincipals', { appId: created.appId });
  const config = await oidc.discovery(new URL(doc.authority + '/v2.0'), app.appId, app.clientSecret);
  const { access_token } = await oidc.clientCredentialsGrant(config, { scope: doc.graphScope });
  const patched = await fetch(doc.graphBaseUrl + '/applications/' + created.id, {
    method: 'PATCH',
    headers: { Authorization: 'Bearer ' + access_token, 'Content-Type': 'application/json' },
    body: JSON.stringify({ keyCredentials: [{ type: 'AsymmetricX509Cert', usage: 'Verify', key: der.toString('base64') }] }),
  });
  assert.equal(patched.status, 204, await patched.text());
  const msal = new ConfidentialClientApplication({
    auth: {
      clientId: created.appId,
      authority: doc.authority,
      knownAuthorities: [new URL(doc.authority).host],
      clientCertificate: { thumbprintSha256: createHash('sha256').update(der).digest('hex'), privateKey },
    },
  });
  const result = await msal.acquireTokenByClientCredential({ scopes: [doc.graphScope] });
  const claims = jose.decodeJwt(result.accessToken);
  assert.equal(claims.azp, created.appId);
  assert.equal(claims.azpacr, '2');  // a certificate, as Entra says it
});

test('openid-client pushes its authorization request (PAR, RFC 9126) and the code flow goes on', async () => {
  const redirect = 'https://interop.example/par';
  const { app: web, username, password } = await registerAppAndUser({ web: { redirectUris: [redirect] } });
  const secret = await graphPost('/applications/' + web.id + '/addPassword', {});
  const config = await oidc.discovery(new URL(doc.authority + '/v2.0'), web.appId, secret.secretText);
  assert.ok(config.serverMetadata().pushed_authorization_request_endpoint);
  const verifier = oidc.randomPKCECodeVerifier();
  const url = await oidc.buildAuthorizationUrlWithPAR(config, {
    redirect_uri: redirect, scope: 'openid profile', state: 'par-state',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
  });
  assert.deepEqual([...url.searchParams.keys()].sort(), ['client_id', 'request_uri']);
  const browser = new Browser();
  assert.equal((await browser.get(url.href)).status, 200);
  await browser.submit({ username, password });
  const back = await browser.submit({ step: 'consent' });
  assert.equal(back.status, 302, browser.html);
  const tokens = await oidc.authorizationCodeGrant(config, new URL(back.headers.get('location')), {
    pkceCodeVerifier: verifier, expectedState: 'par-state',
  });
  assert.equal(tokens.claims().preferred_username, username);
  // The request_uri worked once.
  assert.equal((await browser.get(url.href)).status, 400);
});
