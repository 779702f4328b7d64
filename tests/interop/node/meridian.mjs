// What the interop tests share: the first tenant's credentials file (MERIDIAN_DOC, from
// run_node.py), Graph as its bootstrap application, and a registered application and user.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as oidc from 'openid-client';

export const doc = JSON.parse(readFileSync(process.env.MERIDIAN_DOC, 'utf8'));
export const app = doc.bootstrapApplication;

export async function graphGet(token, path) {
  const r = await fetch(doc.graphBaseUrl + path, { headers: { Authorization: 'Bearer ' + token } });
  return { status: r.status, body: await r.json() };
}

// Graph as the bootstrap application (a Global Administrator): registers what a test needs.
// Returns the response's JSON (null for 204); fails the test on an error status.
export async function graphSend(method, path, body) {
  const config = await oidc.discovery(new URL(doc.authority + '/v2.0'), app.appId, app.clientSecret);
  const { access_token } = await oidc.clientCredentialsGrant(config, { scope: doc.graphScope });
  const r = await fetch(doc.graphBaseUrl + path, {
    method,
    headers: { Authorization: 'Bearer ' + access_token, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await r.text();
  assert.ok(r.status < 300, text);
  return text ? JSON.parse(text) : null;
}

export const graphPost = (path, body) => graphSend('POST', path, body);

// An administrator's consent, for every user, to Graph's `scope` for the client `sp`.
export async function adminConsent(sp, scope) {
  const config = await oidc.discovery(new URL(doc.authority + '/v2.0'), app.appId, app.clientSecret);
  const { access_token } = await oidc.clientCredentialsGrant(config, { scope: doc.graphScope });
  const filter = encodeURIComponent("appId eq '00000003-0000-0000-c000-00000000d1a0'");
  const graph = await graphGet(access_token, '/servicePrincipals?$filter=' + filter);
  await graphPost('/oauth2PermissionGrants', {
    clientId: sp.id, consentType: 'AllPrincipals', resourceId: graph.body.value[0].id, scope,
  });
}

// An application with `props`, its service principal, and a user who can sign in.
export async function registerAppAndUser(props) {
  const created = await graphPost('/applications', { displayName: 'Interop ' + Date.now(), ...props });
  created.servicePrincipal = await graphPost('/servicePrincipals', { appId: created.appId });
  const alias = 'interop' + Math.floor(Math.random() * 1e9);
  const domain = doc.administrator.userPrincipalName.split('@')[1];
  const password = 'Kx7#mQ2!vR9-' + Math.floor(Math.random() * 1e6);
  const user = await graphPost('/users', {
    accountEnabled: true, displayName: 'Interop User', mailNickname: alias,
    userPrincipalName: alias + '@' + domain,
    passwordProfile: { password, forceChangePasswordNextSignIn: false },
  });
  return { app: created, user, username: alias + '@' + domain, password };
}
