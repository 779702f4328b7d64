// A real browser on the sign-in pages: Debian's headless chromium, driven by puppeteer-core, signs
// in through the authorization code flow (with and without a second factor) and the device code
// flow against a running Meridian (run_node.py starts it). No browser is downloaded: CHROMIUM
// names the binary, /usr/bin/chromium by default (scripts/install-deps.sh installs it).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import * as oidc from 'openid-client';
import puppeteer from 'puppeteer-core';
import { doc, graphSend, registerAppAndUser } from './meridian.mjs';

const redirect = 'https://app.example/cb';
let browser;

before(async () => {
  browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    // The server's certificate is a test CA's (run_node.py gives it to node as
    // NODE_EXTRA_CA_CERTS); chromium does not read that variable, and the server is on loopback,
    // so the browser accepts the certificate unchecked.
    acceptInsecureCerts: true,
    // Chromium's sandbox refuses to start as root (a CI container); as any other user it stays on.
    args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
  });
});

after(async () => {
  await browser?.close();
});

// A tab in `context`, or in a new browser profile (no cookies). Navigations to the application's
// redirect URI never leave the browser: they are answered here, and `landed` resolves with the URL
// and, for a form post, the posted fields; it rejects at once when the page's Content Security
// Policy blocks a navigation (chromium says so on the console).
async function newTab(context) {
  context ??= await browser.createBrowserContext();
  const page = await context.newPage();
  await page.setRequestInterception(true);
  let land, block;
  const landed = new Promise((resolve, reject) => { land = resolve; block = reject; });
  landed.catch(() => {});  // a test that never waits for `landed` does not fail for it
  page.on('console', (m) => {
    if (m.text().includes('Content Security Policy')) block(new Error(m.text()));
  });
  page.on('request', (request) => {
    if (!request.url().startsWith(redirect)) return request.continue();
    land({ url: new URL(request.url()), form: new URLSearchParams(request.postData() ?? '') });
    return request.respond({ status: 200, contentType: 'text/html', body: '<p>The application</p>' });
  });
  return { context, page, landed };
}

// Clicks a submit button (`selector`) and waits for the page the form's post leads to.
async function submit(page, selector = 'button[type=submit]') {
  const [response] = await Promise.all([page.waitForNavigation(), page.click(selector)]);
  return response;
}

// What every sign-in page owes a user: a language, a viewport for a phone, and a label for every
// field one types in.
async function assertUsable(page) {
  const found = await page.evaluate(() => ({
    lang: document.documentElement.lang,
    viewport: document.querySelector('meta[name=viewport]')?.content,
    unlabelled: [...document.querySelectorAll('input:not([type=hidden])')]
      .filter((i) => !i.id || !document.querySelector(`label[for="${CSS.escape(i.id)}"]`))
      .map((i) => i.outerHTML),
  }));
  assert.ok(found.lang, 'no <html lang>');
  assert.match(found.viewport ?? '', /width=device-width/);
  assert.deepEqual(found.unlabelled, []);
}

async function typeCredentials(page, username, password) {
  await page.type('#username', username);
  await page.type('#password', password);
}

// RFC 6238 with an authenticator app's parameters: HMAC-SHA1, 30-second steps, 6 digits.
function totp(base32Key, nowMs = Date.now()) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of base32Key.replace(/[\s=]/g, '').toUpperCase()) {
    bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  }
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(nowMs / 30000)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1e6).padStart(6, '0');
}

// A confidential web application whose redirect URI is `redirect`, a user, and openid-client's
// view of the application.
async function webApp() {
  const registered = await registerAppAndUser({ web: { redirectUris: [redirect] } });
  const secret = await graphSend('POST', '/applications/' + registered.app.id + '/addPassword', {});
  const config = await oidc.discovery(new URL(doc.authority + '/v2.0'), registered.app.appId,
                                      secret.secretText);
  return { ...registered, config };
}

// An authorization request with PKCE, state and nonce (the response sent back as `responseMode`
// says), and what redeeming its code checks.
async function authorizationRequest(config, responseMode = 'query') {
  const verifier = oidc.randomPKCECodeVerifier();
  const checks = { pkceCodeVerifier: verifier, expectedState: oidc.randomState(),
                   expectedNonce: oidc.randomNonce() };
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirect, scope: 'openid profile offline_access', response_mode: responseMode,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    state: checks.expectedState, nonce: checks.expectedNonce,
  });
  return { url: url.href, checks };
}

// openid-client redeems the code the browser brought to the redirect URI (`landed`), in the URL
// or, for form_post, in the posted form.
async function redeem(config, landed, checks) {
  const back = await landed;
  const input = back.form.size
    ? new Request(back.url, { method: 'POST', body: back.form })
    : back.url;
  return oidc.authorizationCodeGrant(config, input, checks);
}

// Signs in on the sign-in page the tab shows, and accepts the consent page that follows.
async function signIn(page, username, password) {
  assert.equal(await page.title(), 'Sign in');
  await assertUsable(page);
  await typeCredentials(page, username, password);
  await submit(page);
}

async function consent(page) {
  assert.equal(await page.title(), 'Permissions requested');
  await submit(page, 'button[name=step][value=consent]');
}

test('the browser signs in with a password and lands on the redirect URI with a code',
     { timeout: 20000 }, async () => {
  const { config, username, password } = await webApp();
  const { context, page, landed } = await newTab();
  try {
    const { url, checks } = await authorizationRequest(config);
    assert.equal((await page.goto(url)).status(), 200);
    await signIn(page, username, password);
    await consent(page);
    const tokens = await redeem(config, landed, checks);
    assert.equal(tokens.claims().preferred_username, username);
    assert.deepEqual(tokens.claims().amr, ['pwd']);
    assert.ok(tokens.refresh_token);
    // The session cookie (Secure, on https://localhost) signs the next request in without a page.
    const second = await newTab(context);
    const again = await authorizationRequest(config);
    await second.page.goto(again.url);
    const more = await redeem(config, second.landed, again.checks);
    assert.equal(more.claims().sub, tokens.claims().sub);
  } finally {
    await context.close();
  }
});

// The code sent back by a form the page posts to the application (response_mode=form_post): its
// one script, allowed by its hash, submits it.
test('response_mode=form_post: the page posts the code to the application',
     { timeout: 20000 }, async () => {
  const { config, username, password } = await webApp();
  const { context, page, landed } = await newTab();
  try {
    const { url, checks } = await authorizationRequest(config, 'form_post');
    await page.goto(url);
    await signIn(page, username, password);
    await consent(page);
    const tokens = await redeem(config, landed, checks);
    assert.equal(tokens.claims().preferred_username, username);
  } finally {
    await context.close();
  }
});

test('a user whose MFA is enforced registers an authenticator from the page and signs in with its code',
     { timeout: 20000 }, async () => {
  const { config, user, username, password } = await webApp();
  await graphSend('PATCH', '/users/' + user.id + '/authentication/requirements',
                  { perUserMfaState: 'enforced' });
  const { context, page, landed } = await newTab();
  try {
    const { url, checks } = await authorizationRequest(config);
    await page.goto(url);
    await signIn(page, username, password);
    assert.equal(await page.title(), 'Set up your authenticator app');
    await assertUsable(page);
    assert.ok(await page.$('main svg'), 'no QR code');
    const key = await page.$eval('main code', (c) => c.textContent);
    assert.match(key, /^[A-Z2-7 ]+$/);
    await page.type('#otc', totp(key));
    await submit(page);
    assert.equal(await page.title(), 'Save your recovery codes');
    const codes = await page.$$eval('main li code', (cs) => cs.map((c) => c.textContent));
    assert.equal(codes.length, 10);
    assert.equal(new Set(codes).size, 10);
    await submit(page);  // Continue
    await consent(page);
    const tokens = await redeem(config, landed, checks);
    assert.equal(tokens.claims().preferred_username, username);
    assert.deepEqual(tokens.claims().amr, ['pwd', 'otp', 'mfa']);
  } finally {
    await context.close();
  }
});

test('a wrong password shows the error on a usable page, and the user can try again',
     { timeout: 20000 }, async () => {
  const { config, username, password } = await webApp();
  const { context, page, landed } = await newTab();
  try {
    const { url, checks } = await authorizationRequest(config);
    await page.goto(url);
    await typeCredentials(page, username, password + 'x');
    const refused = await submit(page);
    assert.equal(refused.status(), 400);
    assert.equal(await page.title(), 'Sign in');
    assert.match(await page.$eval('[role=alert]', (e) => e.textContent), /password is incorrect/);
    await assertUsable(page);
    // The form keeps the username, and the password typed again signs in.
    assert.equal(await page.$eval('#username', (i) => i.value), username);
    await page.type('#password', password);
    await submit(page);
    await consent(page);
    await redeem(config, landed, checks);
  } finally {
    await context.close();
  }
});

test('the device code flow: the browser opens verification_uri_complete, confirms and signs in',
     { timeout: 20000 }, async () => {
  const { app: device, username, password } = await registerAppAndUser({ isFallbackPublicClient: true });
  const endpoint = doc.authority + '/oauth2/v2.0';
  const post = async (path, form) => {
    const r = await fetch(endpoint + path, { method: 'POST', body: new URLSearchParams(form) });
    return { status: r.status, body: await r.json() };
  };
  const started = await post('/devicecode', { client_id: device.appId, scope: 'openid profile User.Read' });
  assert.equal(started.status, 200, JSON.stringify(started.body));
  const poll = () => post('/token', {
    grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
    client_id: device.appId, device_code: started.body.device_code,
  });
  assert.equal((await poll()).body.error, 'authorization_pending');
  const { context, page } = await newTab();
  try {
    await page.goto(started.body.verification_uri_complete);
    assert.equal(await page.title(), 'Enter code');
    await assertUsable(page);
    assert.equal(await page.$eval('#user_code', (i) => i.value), started.body.user_code);
    await submit(page);  // Next
    assert.equal(await page.title(), 'Confirm the sign-in');
    assert.ok((await page.$eval('main', (m) => m.textContent)).includes(device.displayName));
    await submit(page, 'button[name=step][value=confirm]');
    await signIn(page, username, password);
    await consent(page);
    assert.equal(await page.title(), "You're signed in");
  } finally {
    await context.close();
  }
  // Approved: the device's next poll gets the tokens, without waiting for the interval.
  const tokens = await poll();
  assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
  assert.ok(tokens.body.access_token);
  const claims = JSON.parse(Buffer.from(tokens.body.id_token.split('.')[1], 'base64url'));
  assert.equal(claims.preferred_username, username);
  assert.equal(claims.aud, device.appId);
});
