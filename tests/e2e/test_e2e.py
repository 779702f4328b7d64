"""End-to-end tests against a real `meridian serve` process, as a new user would use it.

Run: /usr/bin/python3 -m unittest tests/e2e/test_e2e.py (ctest runs it as e2e_test).
"""
import base64
import hashlib
import hmac
import html
import json
import os
import re
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

import msal
import requests

sys.path.insert(0, os.path.dirname(__file__))
from meridian_process import BINARY, Server  # noqa: E402


def totp(base32_key, at=None):
    """The current RFC 6238 code of an authenticator app holding `base32_key`."""
    key = base64.b32decode(base32_key + "=" * (-len(base32_key) % 8))
    mac = hmac.new(key, struct.pack(">Q", int((at or time.time()) // 30)), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    return "%06d" % ((struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF) % 1000000)


def bearer(token):
    return {"Authorization": "Bearer " + token}


class Browser:
    """What a browser does on the sign-in pages: keeps cookies, posts a page's form with the values
    its fields hold and what the user types. Pages are fetched from 127.0.0.1 (where the server listens)
    whatever host the URL names."""

    def __init__(self, ca):
        self.s = requests.Session()
        self.s.verify = ca

    def get(self, url):
        r = self.s.get(url.replace("https://localhost", "https://127.0.0.1"), allow_redirects=False)
        self.page = r
        return r

    def submit(self, **typed):
        form = {}
        for tag in re.findall(r"<input [^>]*>", self.page.text):
            name, value = re.search(r'name="([^"]*)"', tag), re.search(r'value="([^"]*)"', tag)
            if name and value:
                form[html.unescape(name.group(1))] = html.unescape(value.group(1))
        form.update(typed)
        action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', self.page.text).group(1))
        base = re.match(r"https://[^/]+", self.page.url).group(0)
        self.page = self.s.post(base + action, data=form, allow_redirects=False)
        return self.page


class EndToEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server().start()
        cls.doc = cls.server.first_tenant()
        cls.s = cls.server.session
        cls.url = cls.server.url
        cls.tok = cls.server.token(cls.doc)
        cls.h = bearer(cls.tok)

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def user_body(self, alias, name, **extra):
        body = {"accountEnabled": True, "displayName": name, "mailNickname": alias,
                "userPrincipalName": "%s@%s" % (alias, self.doc["initialDomain"]),
                "passwordProfile": {"password": "Xy7!" + base64.b32encode(os.urandom(10)).decode()}}
        body.update(extra)
        return body

    def create_user(self, alias, name, **extra):
        r = self.s.post(self.url + "/v1.0/users", json=self.user_body(alias, name, **extra),
                        headers=self.h)
        self.assertEqual(r.status_code, 201, r.text)
        return r.json()

    def admin_consent(self, client_sp_id, scope):
        """An administrator's consent, for every user, to Graph's `scope` for a client."""
        graph = self.s.get(self.url + "/v1.0/servicePrincipals", headers=self.h, params={
            "$filter": "appId eq '00000003-0000-0000-c000-00000000d1a0'"}).json()["value"][0]
        r = self.s.post(self.url + "/v1.0/oauth2PermissionGrants", headers=self.h, json={
            "clientId": client_sp_id, "consentType": "AllPrincipals", "resourceId": graph["id"],
            "scope": scope})
        self.assertEqual(r.status_code, 201, r.text)

    def assert_graph_error(self, r, status, code=None):
        self.assertEqual(r.status_code, status, r.text)
        err = r.json()["error"]
        self.assertIn("message", err)
        if code:
            self.assertEqual(err["code"], code, r.text)

    def test_passwords_outside_the_policy_are_refused(self):
        for weak in ("P@ssw0rd!", "short7!", "alllowercase1"):
            body = self.user_body("weak", "Weak Example")
            body["passwordProfile"] = {"password": weak}
            r = self.s.post(self.url + "/v1.0/users", json=body, headers=self.h)
            self.assert_graph_error(r, 400, "Request_BadRequest")
            self.assertIn("does not comply with password complexity", r.json()["error"]["message"])
        user = self.create_user("policy", "Policy Example")
        r = self.s.patch(self.url + "/v1.0/users/" + user["id"], headers=self.h,
                         json={"passwordProfile": {"password": "Policy!Example-42"}})
        self.assert_graph_error(r, 400, "Request_BadRequest")
        self.assertIn("name", r.json()["error"]["message"])

    def test_first_tenant_document(self):
        path = os.path.join(self.server.data_dir, "first-tenant.json")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        for key in ("tenantId", "region", "partition", "initialDomain", "graphScope"):
            self.assertTrue(self.doc[key], key)
        self.assertEqual(self.doc["region"], "North America")
        self.assertTrue(self.doc["administrator"]["oneTimePassword"])
        self.assertTrue(self.doc["bootstrapApplication"]["clientSecret"])

    def test_health_ready_metrics(self):
        self.assertEqual(self.s.get(self.url + "/healthz").status_code, 200)
        self.assertEqual(self.s.get(self.url + "/readyz").status_code, 200)
        self.s.get(self.url + "/v1.0/users", headers=self.h)
        m = self.s.get(self.url + "/metrics").text
        self.assertIn('meridian_http_requests_total{', m)
        self.assertIn('route="/v1.0/users"', m)
        self.assertIn('meridian_http_request_duration_seconds_bucket', m)
        self.assertIn('meridian_partition_last_lsn{partition="na-', m)

    def test_msal_client_credentials(self):
        app = msal.ConfidentialClientApplication(
            self.doc["bootstrapApplication"]["appId"],
            client_credential=self.doc["bootstrapApplication"]["clientSecret"],
            authority=self.doc["authority"], validate_authority=False, verify=self.server.ca)
        result = app.acquire_token_for_client(scopes=[self.doc["graphScope"]])
        self.assertIn("access_token", result, result)
        r = self.s.get(self.url + "/v1.0/organization", headers=bearer(result["access_token"]))
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.json()["value"][0]["id"], self.doc["tenantId"])

    def test_msal_username_password_and_refresh(self):
        # A public client that allows public client flows, and a user, registered through Graph.
        app = self.s.post(self.url + "/v1.0/applications", headers=self.h,
                          json={"displayName": "Python public client", "isFallbackPublicClient": True}).json()
        sp = self.s.post(self.url + "/v1.0/servicePrincipals", headers=self.h, json={"appId": app["appId"]}).json()
        upn = "msalpy@" + self.doc["administrator"]["userPrincipalName"].split("@")[1]
        # A password grant cannot ask for consent: an administrator gives it beforehand.
        self.admin_consent(sp["id"], "User.Read")
        r = self.s.post(self.url + "/v1.0/users", headers=self.h, json={
            "accountEnabled": True, "displayName": "Msal Py", "mailNickname": "msalpy",
            "userPrincipalName": upn,
            "passwordProfile": {"password": "Qz4%tLw8!Np2", "forceChangePasswordNextSignIn": False}})
        self.assertEqual(r.status_code, 201, r.text)
        # MSAL asks https://<host>/common/userrealm/ first, on port 443 whatever the authority's
        # port (its Authority.instance drops it); a 404 there means "a plain directory". The test
        # server cannot listen on 443, so tell MSAL what that 404 would.
        msal.authority.Authority._domains_without_user_realm_discovery.add("localhost")
        pca = msal.PublicClientApplication(app["appId"], authority=self.doc["authority"],
                                           validate_authority=False, verify=self.server.ca)
        result = pca.acquire_token_by_username_password(upn, "Qz4%tLw8!Np2", scopes=["User.Read"])
        self.assertIn("access_token", result, result)
        self.assertEqual(result["id_token_claims"]["preferred_username"], upn)
        me = self.s.get(self.url + "/v1.0/users/" + upn, headers=bearer(result["access_token"]))
        self.assertEqual(me.status_code, 200, me.text)
        # MSAL redeems its cached refresh token for a new access token.
        account = pca.get_accounts(username=upn)[0]
        again = pca.acquire_token_silent_with_error(["User.Read"], account, force_refresh=True)
        self.assertIn("access_token", again, again)
        self.assertNotEqual(again["access_token"], result["access_token"])
        wrong = pca.acquire_token_by_username_password(upn, "wrong", scopes=["User.Read"])
        self.assertEqual(wrong.get("error"), "invalid_grant", wrong)
        # Each attempt is in the sign-in log.
        log = self.s.get(self.url + "/v1.0/auditLogs/signIns", headers=self.h,
                         params={"$filter": "appId eq '%s'" % app["appId"]}).json()["value"]
        self.assertEqual([e["status"]["errorCode"] for e in log], [50126, 0])

    def test_msal_client_credentials_with_a_certificate(self):
        # A workload with no secret: a certificate registered in keyCredentials, and python3-msal
        # signing client assertions with its private key.
        tmp = tempfile.mkdtemp()
        try:
            key, cert = os.path.join(tmp, "key.pem"), os.path.join(tmp, "cert.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                            "-out", cert, "-days", "2", "-subj", "/CN=workload"], check=True,
                           capture_output=True)
            der = subprocess.run(["openssl", "x509", "-in", cert, "-outform", "DER"], check=True,
                                 capture_output=True).stdout
            with open(key) as f:
                private_key = f.read()
        finally:
            shutil.rmtree(tmp)
        app = self.s.post(self.url + "/v1.0/applications", headers=self.h,
                          json={"displayName": "Workload with a certificate"}).json()
        sp = self.s.post(self.url + "/v1.0/servicePrincipals", headers=self.h, json={"appId": app["appId"]}).json()
        self.assertEqual(self.s.post(self.url + "/v1.0/roleManagement/directory/roleAssignments", headers=self.h, json={
            "principalId": sp["id"], "roleDefinitionId": "88d8e3e3-8f55-4a1e-953a-9b9898b8876b"}).status_code, 201)
        r = self.s.patch(self.url + "/v1.0/applications/" + app["id"], headers=self.h, json={"keyCredentials": [
            {"type": "AsymmetricX509Cert", "usage": "Verify", "key": base64.b64encode(der).decode()}]})
        self.assertEqual(r.status_code, 204, r.text)
        cca = msal.ConfidentialClientApplication(
            app["appId"], authority=self.doc["authority"], validate_authority=False, verify=self.server.ca,
            client_credential={"private_key": private_key,
                               "thumbprint": hashlib.sha1(der).hexdigest()})
        result = cca.acquire_token_for_client(scopes=[self.doc["graphScope"]])
        self.assertIn("access_token", result, result)
        users = self.s.get(self.url + "/v1.0/users", headers=bearer(result["access_token"]))
        self.assertEqual(users.status_code, 200, users.text)
        # Another key, claiming the same certificate: refused.
        other = subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
                               check=True, capture_output=True, text=True).stdout
        forged = msal.ConfidentialClientApplication(
            app["appId"], authority=self.doc["authority"], validate_authority=False, verify=self.server.ca,
            client_credential={"private_key": other, "thumbprint": hashlib.sha1(der).hexdigest()})
        self.assertEqual(forged.acquire_token_for_client(scopes=[self.doc["graphScope"]]).get("error"),
                         "invalid_client")

    def test_msal_device_flow_and_the_administrators_first_sign_in(self):
        # The first tenant's administrator signs in for the first time, with the one-time password
        # of the tenant document, to a device (python3-msal's device code flow), and is made to
        # change it on the page.
        app = self.s.post(self.url + "/v1.0/applications", headers=self.h,
                          json={"displayName": "Python device", "isFallbackPublicClient": True}).json()
        self.s.post(self.url + "/v1.0/servicePrincipals", headers=self.h, json={"appId": app["appId"]})
        pca = msal.PublicClientApplication(app["appId"], authority=self.doc["authority"],
                                           validate_authority=False, verify=self.server.ca)
        flow = pca.initiate_device_flow(scopes=["User.Read"])
        self.assertIn("user_code", flow, flow)
        self.assertIn(flow["user_code"], flow["message"])
        result = {}
        flow["expires_at"] = time.time() + 60  # MSAL polls until then
        poller = threading.Thread(target=lambda: result.update(pca.acquire_token_by_device_flow(flow)),
                                  daemon=True)
        poller.start()

        admin = self.doc["administrator"]
        browser = Browser(self.server.ca)
        self.assertEqual(browser.get(flow["verification_uri_complete"]).status_code, 200)
        confirm = browser.submit()
        self.assertIn(app["displayName"], confirm.text)
        browser.submit(step="confirm")
        change = browser.submit(username=admin["userPrincipalName"], password=admin["oneTimePassword"])
        self.assertIn("new-password", change.text)
        weak = browser.submit(new_password="password1", confirm_password="password1")
        self.assertEqual(weak.status_code, 400)
        consent = browser.submit(new_password="Tq8#Lw2!Rz5x", confirm_password="Tq8#Lw2!Rz5x")
        self.assertIn("Sign you in and read your profile", consent.text)
        done = browser.submit(step="consent")
        self.assertIn("You have signed in", done.text)
        poller.join(60)
        self.assertIn("access_token", result, result)
        self.assertEqual(result["id_token_claims"]["oid"], admin["id"])
        me = self.s.get(self.url + "/v1.0/users/" + admin["id"], headers=bearer(result["access_token"]))
        self.assertEqual(me.status_code, 200, me.text)
        # The one-time password no longer signs in; the new one does.
        ep = self.url + "/%s/oauth2/v2.0/token" % self.doc["tenantId"]
        for password, error in ((admin["oneTimePassword"], "invalid_grant"), ("Tq8#Lw2!Rz5x", None)):
            r = self.s.post(ep, data={"grant_type": "password", "client_id": app["appId"],
                                      "username": admin["userPrincipalName"], "password": password,
                                      "scope": "User.Read"})
            self.assertEqual(r.json().get("error"), error, r.text)

    def test_token_errors(self):
        ep = self.url + "/%s/oauth2/v2.0/token" % self.doc["tenantId"]
        app = self.doc["bootstrapApplication"]
        base = {"grant_type": "client_credentials", "client_id": app["appId"],
                "client_secret": app["clientSecret"], "scope": self.doc["graphScope"]}
        cases = [
            (dict(base, client_secret="wrong"), 401, "invalid_client"),
            (dict(base, grant_type="implicit"), 400, "unsupported_grant_type"),
            # The bootstrap application does not allow public client flows.
            (dict(base, grant_type="password", username="x@y.z", password="p"), 400, "unauthorized_client"),
            (dict(base, scope="https://example.com/.default"), 400, "invalid_scope"),
            ({k: v for k, v in base.items() if k != "grant_type"}, 400, "invalid_request"),
        ]
        for form, status, error in cases:
            r = self.s.post(ep, data=form)
            self.assertEqual(r.status_code, status, r.text)
            self.assertEqual(r.json()["error"], error)
        # client_secret_basic works too.
        r = self.s.post(ep, data={k: v for k, v in base.items() if k not in ("client_id", "client_secret")},
                        auth=(app["appId"], app["clientSecret"]))
        self.assertEqual(r.status_code, 200, r.text)
        unknown = self.s.post(self.url + "/00000000-0000-4000-8000-000000000000/oauth2/v2.0/token", data=base)
        self.assertEqual(unknown.status_code, 400)

    def test_discovery_and_jwks(self):
        d = self.s.get(self.url + "/%s/v2.0/.well-known/openid-configuration" % self.doc["tenantId"]).json()
        self.assertEqual(d["issuer"], self.doc["authority"] + "/v2.0")
        keys = self.s.get(d["jwks_uri"].replace("https://localhost", "https://127.0.0.1")).json()["keys"]
        self.assertEqual(keys[0]["kty"], "RSA")
        header = json.loads(base64.urlsafe_b64decode(self.tok.split(".")[0] + "=="))
        self.assertEqual(header["alg"], "RS256")
        self.assertIn(header["kid"], [k["kid"] for k in keys])
        by_domain = self.s.get(self.url + "/%s/v2.0/.well-known/openid-configuration" % self.doc["initialDomain"])
        self.assertEqual(by_domain.json()["issuer"], d["issuer"])

    def test_discovery_says_only_what_is_served(self):
        d = self.s.get(self.doc["openidConfiguration"].replace("https://localhost", "https://127.0.0.1")).json()
        self.assertEqual(d["grant_types_supported"],
                         ["client_credentials", "password", "refresh_token", "authorization_code",
                          "urn:ietf:params:oauth:grant-type:device_code"])
        self.assertEqual(d["subject_types_supported"], ["pairwise"])
        self.assertIn("openid", d["scopes_supported"])
        self.assertIn(self.doc["graphScope"], d["scopes_supported"])
        claims = json.loads(base64.urlsafe_b64decode(self.tok.split(".")[1] + "=="))
        self.assertLessEqual(set(claims), set(d["claims_supported"]))
        # The authorization endpoint serves the code flow only; the bootstrap application has no
        # redirect URI, so every request stops on an error page and is never redirected.
        self.assertEqual(d["response_types_supported"], ["code"])
        self.assertEqual(d["code_challenge_methods_supported"], ["S256"])
        authorize = d["authorization_endpoint"].replace("https://localhost", "https://127.0.0.1")
        for response_type in ("code", "token", "id_token", "code id_token"):
            r = self.s.get(authorize, params={"response_type": response_type,
                                              "client_id": self.doc["bootstrapApplication"]["appId"],
                                              "redirect_uri": "https://evil.example/"},
                           allow_redirects=False)
            self.assertEqual(r.status_code, 400, r.text)
            self.assertNotIn("Location", r.headers)
            self.assertIn("text/html", r.headers["Content-Type"])

    def test_gate_rejects_missing_forged_and_foreign_tokens(self):
        r = self.s.get(self.url + "/v1.0/users")
        self.assert_graph_error(r, 401, "InvalidAuthenticationToken")
        h, p, sig = self.tok.split(".")
        claims = json.loads(base64.urlsafe_b64decode(p + "=="))
        claims["tid"] = "00000000-0000-4000-8000-000000000000"
        forged = h + "." + base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=") + "." + sig
        self.assert_graph_error(self.s.get(self.url + "/v1.0/users", headers=bearer(forged)), 401)
        none_header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').decode().rstrip("=")
        self.assert_graph_error(self.s.get(self.url + "/v1.0/users", headers=bearer(none_header + "." + p + ".")), 401)
        self.assert_graph_error(self.s.get(self.url + "/v1.0/users", headers=bearer("garbage")), 401)

    def test_gate_rejects_disabled_and_deleted_principals(self):
        app = self.s.post(self.url + "/v1.0/applications", json={"displayName": "Gated"}, headers=self.h).json()
        sp = self.s.post(self.url + "/v1.0/servicePrincipals", json={"appId": app["appId"]}, headers=self.h).json()
        self.assertEqual(self.s.post(self.url + "/v1.0/roleManagement/directory/roleAssignments", json={
            "principalId": sp["id"], "roleDefinitionId": "88d8e3e3-8f55-4a1e-953a-9b9898b8876b"},
            headers=self.h).status_code, 201)
        secret = self.s.post(self.url + "/v1.0/applications/%s/addPassword" % app["id"], json={},
                             headers=self.h).json()["secretText"]
        tok = self.s.post(self.url + "/%s/oauth2/v2.0/token" % self.doc["tenantId"], data={
            "grant_type": "client_credentials", "client_id": app["appId"], "client_secret": secret,
            "scope": self.doc["graphScope"]}).json()["access_token"]
        users = self.url + "/v1.0/users"
        self.assertEqual(self.s.get(users, headers=bearer(tok)).status_code, 200)
        sp_url = self.url + "/v1.0/servicePrincipals/" + sp["id"]
        self.assertEqual(self.s.patch(sp_url, json={"accountEnabled": False}, headers=self.h).status_code, 204)
        self.assert_graph_error(self.s.get(users, headers=bearer(tok)), 401, "InvalidAuthenticationToken")
        self.assertEqual(self.s.patch(sp_url, json={"accountEnabled": True}, headers=self.h).status_code, 204)
        self.assertEqual(self.s.get(users, headers=bearer(tok)).status_code, 200)
        self.assertEqual(self.s.delete(sp_url, headers=self.h).status_code, 204)
        self.assert_graph_error(self.s.get(users, headers=bearer(tok)), 401, "InvalidAuthenticationToken")

    def test_users_crud_filter_paging(self):
        ids = [self.create_user("pg%02d" % i, "Paging %02d" % i, jobTitle="Tester")["id"] for i in range(12)]
        url = self.url + "/v1.0/users?$filter=startswith(displayName,'Paging')&$top=5&$select=id,displayName"
        seen = []
        pages = 0
        while url:
            r = self.s.get(url, headers=self.h)
            self.assertEqual(r.status_code, 200, r.text)
            body = r.json()
            self.assertIn("@odata.context", body)
            seen += [u["displayName"] for u in body["value"]]
            self.assertEqual(set(body["value"][0].keys()), {"id", "displayName"})
            url = body.get("@odata.nextLink")
            pages += 1
        self.assertEqual(seen, ["Paging %02d" % i for i in range(12)])
        self.assertEqual(pages, 3)
        # eq, in, and, or, not as residual, any()
        q = self.url + "/v1.0/users?$filter=displayName eq 'Paging 03' or displayName in ('Paging 04','Paging 05')"
        self.assertEqual(len(self.s.get(q, headers=self.h).json()["value"]), 3)
        q = self.url + "/v1.0/users?$filter=startswith(displayName,'Paging') and not(displayName eq 'Paging 00')&$count=true"
        r = self.s.get(q, headers=dict(self.h, ConsistencyLevel="eventual"))
        self.assertEqual(r.json()["@odata.count"], 11)
        r = self.s.get(q, headers=self.h)
        self.assert_graph_error(r, 400)
        # orderby desc
        r = self.s.get(self.url + "/v1.0/users?$filter=startswith(displayName,'Paging')&$orderby=displayName desc&$top=2", headers=self.h)
        self.assertEqual([u["displayName"] for u in r.json()["value"]], ["Paging 11", "Paging 10"])
        # get, patch with etag, delete
        r = self.s.get(self.url + "/v1.0/users/" + ids[0], headers=self.h)
        etag = r.headers["ETag"]
        self.assertEqual(self.s.patch(self.url + "/v1.0/users/" + ids[0], json={"jobTitle": "Lead"},
                                      headers=dict(self.h, **{"If-Match": etag})).status_code, 204)
        self.assert_graph_error(self.s.patch(self.url + "/v1.0/users/" + ids[0], json={"jobTitle": "X"},
                                             headers=dict(self.h, **{"If-Match": etag})), 412)
        upn = "pg00@" + self.doc["initialDomain"]
        self.assertEqual(self.s.get(self.url + "/v1.0/users/" + upn, headers=self.h).json()["jobTitle"], "Lead")
        for i in ids:
            self.assertEqual(self.s.delete(self.url + "/v1.0/users/" + i, headers=self.h).status_code, 204)
        self.assert_graph_error(self.s.get(self.url + "/v1.0/users/" + ids[0], headers=self.h), 404,
                                "Request_ResourceNotFound")

    def test_temporary_access_pass_methods(self):
        user = self.create_user("tap01", "Tap User")
        base = self.url + "/v1.0/users/tap01@%s/authentication/temporaryAccessPassMethods" % \
            self.doc["initialDomain"]
        r = self.s.post(base, json={"lifetimeInMinutes": 60, "isUsableOnce": True}, headers=self.h)
        self.assertEqual(r.status_code, 201, r.text)
        self.assertEqual(r.headers.get("Cache-Control"), "no-store")
        method = r.json()
        self.assertEqual(len(method["temporaryAccessPass"]), 12)
        self.assertTrue(method["isUsable"])
        self.assertIn(user["id"], method["@odata.context"])
        # Shown once: listing never shows the pass again; one pass at a time.
        listed = self.s.get(base, headers=self.h).json()["value"]
        self.assertEqual([m["id"] for m in listed], [method["id"]])
        self.assertIsNone(listed[0]["temporaryAccessPass"])
        self.assert_graph_error(self.s.post(base, json={}, headers=self.h), 400)
        self.assert_graph_error(self.s.post(base, json={"lifetimeInMinutes": 1}, headers=self.h), 400)
        r = self.s.get(base + "/" + method["id"], headers=self.h)
        self.assertEqual(r.json()["lifetimeInMinutes"], 60, r.text)
        self.assertEqual(self.s.delete(base + "/" + method["id"], headers=self.h).status_code, 204)
        self.assertEqual(self.s.get(base, headers=self.h).json()["value"], [])
        self.assert_graph_error(self.s.get(base + "/" + method["id"], headers=self.h), 404)

    def test_per_user_mfa_registers_an_authenticator_in_the_code_flow(self):
        user = self.create_user("mfa01", "Mfa User",
                                passwordProfile={"password": "Rk4!vN8#qT2x", "forceChangePasswordNextSignIn": False})
        req = self.url + "/v1.0/users/%s/authentication/requirements" % user["id"]
        self.assertEqual(self.s.get(req, headers=self.h).json()["perUserMfaState"], "disabled")
        self.assert_graph_error(self.s.patch(req, json={"perUserMfaState": "always"}, headers=self.h), 400)
        self.assert_graph_error(self.s.patch(req, json={"perUserMfaState": "enforced", "x": 1}, headers=self.h), 400)
        self.assertEqual(self.s.patch(req, json={"perUserMfaState": "enforced"}, headers=self.h).status_code, 204)
        self.assertEqual(self.s.get(req, headers=self.h).json()["perUserMfaState"], "enforced")
        pub = self.s.post(self.url + "/v1.0/applications", headers=self.h,
                          json={"displayName": "Mfa probe", "isFallbackPublicClient": True}).json()
        self.s.post(self.url + "/v1.0/servicePrincipals", headers=self.h, json={"appId": pub["appId"]})
        ep = self.url + "/%s/oauth2/v2.0/token" % self.doc["tenantId"]

        redirect = "https://app.example/signed-in"
        app = self.s.post(self.url + "/v1.0/applications", headers=self.h,
                          json={"displayName": "Mfa web", "web": {"redirectUris": [redirect]}}).json()
        self.s.post(self.url + "/v1.0/servicePrincipals", headers=self.h, json={"appId": app["appId"]})
        secret = self.s.post(self.url + "/v1.0/applications/%s/addPassword" % app["id"], json={},
                             headers=self.h).json()["secretText"]
        browser = Browser(self.server.ca)
        authorize = self.url + "/%s/oauth2/v2.0/authorize" % self.doc["tenantId"]
        verifier = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
        page = browser.get(authorize + "?" + urllib.parse.urlencode({
            "client_id": app["appId"], "response_type": "code", "redirect_uri": redirect,
            "scope": "openid", "state": "s1", "code_challenge": challenge,
            "code_challenge_method": "S256"}))
        self.assertEqual(page.status_code, 200, page.text)
        enrol = browser.submit(username=user["userPrincipalName"], password="Rk4!vN8#qT2x")
        self.assertIn("<svg", enrol.text)
        key = re.search(r"<code>([A-Z2-7]+)</code>", enrol.text).group(1)
        codes = browser.submit(otc=totp(key))
        self.assertIn("recovery codes", codes.text)
        consent = browser.submit()  # continue: then the sign-in's consent (User.Read)
        self.assertIn("Sign you in and read your profile", consent.text)
        back = browser.submit(step="consent")
        self.assertEqual(back.status_code, 302, back.text)
        code = re.search(r"code=([^&]+)", back.headers["Location"]).group(1)
        tokens = self.s.post(ep, data={
            "grant_type": "authorization_code", "client_id": app["appId"], "client_secret": secret,
            "code": urllib.parse.unquote(code), "redirect_uri": redirect, "code_verifier": verifier}).json()
        claims = json.loads(base64.urlsafe_b64decode(tokens["id_token"].split(".")[1] + "=="))
        self.assertEqual(claims["amr"], ["pwd", "otp", "mfa"])
        # The password grant cannot give the second factor: a user who must use one is refused.
        r = self.s.post(ep, data={"grant_type": "password", "client_id": pub["appId"], "scope": "User.Read",
                                  "username": user["userPrincipalName"], "password": "Rk4!vN8#qT2x"})
        self.assertEqual(r.json().get("error"), "invalid_grant", r.text)
        self.assertIn("AADSTS50076", r.json()["error_description"])

    def test_a_delegated_token_does_what_its_scopes_and_its_user_both_allow(self):
        # A Global Administrator signs in to an application that asked for User.Read: the token
        # reads the administrator's own profile and nothing else, whatever the user's roles.
        admin = self.create_user("deleg01", "Delegated Admin",
                                 passwordProfile={"password": "Wm7!cR3#pL9x", "forceChangePasswordNextSignIn": False})
        self.assertEqual(self.s.post(self.url + "/v1.0/roleManagement/directory/roleAssignments", headers=self.h, json={
            "principalId": admin["id"], "roleDefinitionId": "62e90394-69f5-4237-9190-012177145e10",
            "directoryScopeId": "/"}).status_code, 201)
        plain = self.create_user("deleg02", "Plain User",
                                 passwordProfile={"password": "Wm7!cR3#pL9y", "forceChangePasswordNextSignIn": False})
        app = self.s.post(self.url + "/v1.0/applications", headers=self.h,
                          json={"displayName": "Delegated probe", "isFallbackPublicClient": True}).json()
        sp = self.s.post(self.url + "/v1.0/servicePrincipals", headers=self.h, json={"appId": app["appId"]}).json()
        self.admin_consent(sp["id"], "User.Read User.ReadWrite Group.ReadWrite.All")
        ep = self.url + "/%s/oauth2/v2.0/token" % self.doc["tenantId"]

        def token(user, password, scope):
            r = self.s.post(ep, data={"grant_type": "password", "client_id": app["appId"], "scope": scope,
                                      "username": user["userPrincipalName"], "password": password})
            self.assertEqual(r.status_code, 200, r.text)
            return bearer(r.json()["access_token"])

        narrow = token(admin, "Wm7!cR3#pL9x", "User.Read")
        self.assertEqual(self.s.get(self.url + "/v1.0/me", headers=narrow).json()["id"], admin["id"])
        self.assertEqual(self.s.get(self.url + "/v1.0/users/" + admin["id"], headers=narrow).status_code, 200)
        self.assert_graph_error(self.s.get(self.url + "/v1.0/users/" + plain["id"], headers=narrow), 403)
        self.assert_graph_error(self.s.post(self.url + "/v1.0/groups", headers=narrow, json={
            "displayName": "G", "mailEnabled": False, "mailNickname": "g", "securityEnabled": True}), 403)
        self.assert_graph_error(self.s.patch(self.url + "/v1.0/users/" + plain["id"], headers=narrow,
                                             json={"accountEnabled": False}), 403)
        self.assert_graph_error(self.s.get(self.url + "/v1.0/directoryObjects/" + plain["id"], headers=narrow), 403)
        # User.ReadWrite updates one's own profile, not the account's security, nor deletes it.
        mine = token(admin, "Wm7!cR3#pL9x", "User.ReadWrite")
        me = self.url + "/v1.0/users/" + admin["id"]
        self.assertEqual(self.s.patch(me, headers=mine, json={"jobTitle": "Tester"}).status_code, 204)
        self.assert_graph_error(self.s.patch(me, headers=mine, json={"accountEnabled": False}), 403)
        self.assert_graph_error(self.s.delete(me, headers=mine), 403)
        # The scope, and the user's role: both are needed.
        wide = token(admin, "Wm7!cR3#pL9x", "Group.ReadWrite.All")
        self.assertEqual(self.s.post(self.url + "/v1.0/groups", headers=wide, json={
            "displayName": "G", "mailEnabled": False, "mailNickname": "g", "securityEnabled": True}).status_code, 201)
        no_role = token(plain, "Wm7!cR3#pL9y", "Group.ReadWrite.All")
        self.assert_graph_error(self.s.post(self.url + "/v1.0/groups", headers=no_role, json={
            "displayName": "H", "mailEnabled": False, "mailNickname": "h", "securityEnabled": True}), 403)

    def test_bad_input(self):
        u = self.url + "/v1.0/users"
        before = self.s.get(u + "/$count", headers=dict(self.h, ConsistencyLevel="eventual")).text
        jh = dict(self.h, **{"Content-Type": "application/json"})
        self.assert_graph_error(self.s.post(u, data="{not json", headers=jh), 400)
        self.assert_graph_error(self.s.post(u, data="[1,2]", headers=jh), 400)
        self.assert_graph_error(self.s.post(u, json=dict(self.user_body("b1", "B"), accountEnabled="yes"), headers=self.h), 400)
        self.assert_graph_error(self.s.post(u, json=dict(self.user_body("b2", "B"), id="x"), headers=self.h), 400)
        self.assert_graph_error(self.s.post(u, json=dict(self.user_body("b3", "B"), shoeSize=9), headers=self.h), 400)
        self.create_user("dup", "Dup")
        self.assert_graph_error(self.s.post(u, json=self.user_body("dup", "Dup"), headers=self.h), 400)
        self.assert_graph_error(self.s.post(u, data="{" + " " * (5 << 20) + "}", headers=jh), 413)
        self.assert_graph_error(self.s.get(u + "?$filter=displayName eq", headers=self.h), 400)
        self.assert_graph_error(self.s.get(u + "?$filter=shoeSize eq 3", headers=self.h), 400)
        self.assert_graph_error(self.s.get(u + "?$filter=" + "(" * 5000 + "x", headers=self.h), 400)
        self.assert_graph_error(self.s.get(u + "?$top=100000", headers=self.h), 400)
        self.assert_graph_error(self.s.get(u + "?$skiptoken=forged", headers=self.h), 400)
        self.assert_graph_error(self.s.get(u + "/" + "5f1b2d0c-1111-4222-8333-444455556666", headers=self.h), 404)
        after = self.s.get(u + "/$count", headers=dict(self.h, ConsistencyLevel="eventual")).text
        self.assertEqual(int(after), int(before) + 1)

    def test_groups_membership(self):
        alice = self.create_user("alice", "Alice")
        def group(name, **extra):
            body = {"displayName": name, "mailEnabled": False, "mailNickname": name, "securityEnabled": True}
            body.update(extra)
            r = self.s.post(self.url + "/v1.0/groups", json=body, headers=self.h)
            self.assertEqual(r.status_code, 201, r.text)
            return r.json()
        inner, outer = group("inner"), group("outer")
        m365 = group("team", mailEnabled=True, groupTypes=["Unified"])
        self.assertTrue(m365["mail"].startswith("team@"))
        ref = lambda o: {"@odata.id": self.url + "/v1.0/directoryObjects/" + o["id"]}
        self.assertEqual(self.s.post(self.url + "/v1.0/groups/%s/members/$ref" % inner["id"], json=ref(alice), headers=self.h).status_code, 204)
        self.assertEqual(self.s.post(self.url + "/v1.0/groups/%s/members/$ref" % outer["id"], json=ref(inner), headers=self.h).status_code, 204)
        self.assert_graph_error(self.s.post(self.url + "/v1.0/groups/%s/members/$ref" % inner["id"], json=ref(alice), headers=self.h), 400)
        direct = self.s.get(self.url + "/v1.0/users/%s/memberOf" % alice["id"], headers=self.h).json()["value"]
        self.assertEqual([g["id"] for g in direct], [inner["id"]])
        trans = self.s.get(self.url + "/v1.0/users/%s/transitiveMemberOf" % alice["id"], headers=self.h).json()["value"]
        self.assertEqual(sorted(g["id"] for g in trans), sorted([inner["id"], outer["id"]]))
        self.assertEqual(trans[0]["@odata.type"], "#microsoft.graph.group")
        members = self.s.get(self.url + "/v1.0/groups/%s/transitiveMembers" % outer["id"], headers=self.h).json()["value"]
        self.assertEqual(sorted(m["id"] for m in members), sorted([inner["id"], alice["id"]]))
        r = self.s.get(self.url + "/v1.0/groups?$filter=groupTypes/any(c:c eq 'Unified')", headers=self.h)
        self.assertEqual([g["id"] for g in r.json()["value"]], [m365["id"]])
        self.assertEqual(self.s.delete(self.url + "/v1.0/groups/%s/members/%s/$ref" % (inner["id"], alice["id"]), headers=self.h).status_code, 204)
        self.assertEqual(self.s.get(self.url + "/v1.0/users/%s/memberOf" % alice["id"], headers=self.h).json()["value"], [])

    def test_applications_and_roles(self):
        r = self.s.post(self.url + "/v1.0/applications", json={"displayName": "Payroll",
                        "web": {"redirectUris": ["https://payroll.example/cb"]}}, headers=self.h)
        self.assertEqual(r.status_code, 201, r.text)
        app = r.json()
        bad = self.s.post(self.url + "/v1.0/applications", json={"displayName": "Bad",
                          "web": {"redirectUris": ["http://evil.example/cb"]}}, headers=self.h)
        self.assert_graph_error(bad, 400)
        # Complex properties are checked member by member, and a record is bounded (128 KiB).
        apps = self.url + "/v1.0/applications"
        self.assert_graph_error(self.s.post(apps, json={"displayName": "X", "api": {"shoeSize": 9}},
                                            headers=self.h), 400, "Request_BadRequest")
        scopes = [{"id": "00000000-0000-4000-8000-%012d" % i, "adminConsentDescription": "x" * 1000}
                  for i in range(3500)]
        big = self.s.post(apps, json={"displayName": "Big", "api": {"oauth2PermissionScopes": scopes}},
                          headers=self.h)
        self.assert_graph_error(big, 400, "Request_BadRequest")
        self.assertIn("131072 bytes", big.json()["error"]["message"])
        sp = self.s.post(self.url + "/v1.0/servicePrincipals", json={"appId": app["appId"]}, headers=self.h)
        self.assertEqual(sp.status_code, 201, sp.text)
        pw = self.s.post(self.url + "/v1.0/applications/%s/addPassword" % app["id"],
                         json={"passwordCredential": {"displayName": "ci"}}, headers=self.h).json()
        self.assertTrue(pw["secretText"])
        listed = self.s.get(self.url + "/v1.0/applications/" + app["id"], headers=self.h).json()
        self.assertNotIn("secretText", json.dumps(listed))
        # The new app holds no role: as in Graph, it can neither read nor write the directory.
        tok = self.s.post(self.url + "/%s/oauth2/v2.0/token" % self.doc["tenantId"], data={
            "grant_type": "client_credentials", "client_id": app["appId"],
            "client_secret": pw["secretText"], "scope": self.doc["graphScope"]}).json()["access_token"]
        for path in ("/v1.0/users", "/v1.0/applications", "/v1.0/roleManagement/directory/roleAssignments",
                     "/v1.0/users/" + self.doc["administrator"]["id"]):
            self.assert_graph_error(self.s.get(self.url + path, headers=bearer(tok)), 403,
                                    "Authorization_RequestDenied")
        refused = self.s.post(self.url + "/v1.0/users", json=self.user_body("nope", "N"),
                              headers={**bearer(tok), "client-request-id": "c0ffee"})
        self.assert_graph_error(refused, 403, "Authorization_RequestDenied")
        # The refusal is audited, with the request's id as its correlation id.
        audits = self.s.get(self.url + "/v1.0/auditLogs/directoryAudits?$top=1", headers=self.h).json()
        self.assertEqual(audits["value"][0]["result"], "failure")
        self.assertEqual(audits["value"][0]["activityDisplayName"], "Add user")
        self.assertEqual(audits["value"][0]["correlationId"], refused.headers["request-id"])
        ra = self.s.post(self.url + "/v1.0/roleManagement/directory/roleAssignments", json={
            "principalId": sp.json()["id"], "roleDefinitionId": "fe930be7-5e62-47db-91af-98c3a49a38b1",
            "directoryScopeId": "/"}, headers=self.h)
        self.assertEqual(ra.status_code, 201, ra.text)
        self.assertEqual(self.s.post(self.url + "/v1.0/users", json=self.user_body("nowyes", "N"),
                                     headers=bearer(tok)).status_code, 201)
        # Holding a narrower role must not lead to Global Administrator: not through the members of
        # a role-assignable group, nor through the credentials of a privileged application.
        g = self.s.post(self.url + "/v1.0/groups", json={"displayName": "ga-holders", "mailEnabled": False,
                        "mailNickname": "ga-holders", "securityEnabled": True, "isAssignableToRole": True},
                        headers=self.h).json()
        self.assertEqual(self.s.post(self.url + "/v1.0/roleManagement/directory/roleAssignments", json={
            "principalId": g["id"], "roleDefinitionId": "62e90394-69f5-4237-9190-012177145e10"},
            headers=self.h).status_code, 201)
        self.assert_graph_error(self.s.post(self.url + "/v1.0/groups/%s/members/$ref" % g["id"],
                                            json={"@odata.id": self.url + "/v1.0/directoryObjects/" + sp.json()["id"]},
                                            headers=bearer(tok)), 403)
        self.assertEqual(self.s.post(self.url + "/v1.0/roleManagement/directory/roleAssignments", json={
            "principalId": sp.json()["id"], "roleDefinitionId": "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3"},
            headers=self.h).status_code, 201)
        boot = self.doc["bootstrapApplication"]["objectId"]
        self.assert_graph_error(self.s.post(self.url + "/v1.0/applications/%s/addPassword" % boot, json={},
                                            headers=bearer(tok)), 403)
        plain = self.s.post(self.url + "/v1.0/applications", json={"displayName": "Plain"}, headers=self.h).json()
        self.assertEqual(self.s.post(self.url + "/v1.0/applications/%s/addPassword" % plain["id"], json={},
                                     headers=bearer(tok)).status_code, 200)
        defs = self.s.get(self.url + "/v1.0/roleManagement/directory/roleDefinitions?$filter=displayName eq 'Global Administrator'", headers=self.h).json()
        self.assertEqual(defs["value"][0]["id"], "62e90394-69f5-4237-9190-012177145e10")
        audits = self.s.get(self.url + "/v1.0/auditLogs/directoryAudits?$top=5", headers=self.h).json()
        self.assertEqual(audits["value"][0]["activityDisplayName"],
                         "Update application - Certificates and secrets management")
        self.assertIn("Add unifiedRoleAssignment", [a["activityDisplayName"] for a in audits["value"]])

    def test_domains_and_organization(self):
        d = self.s.get(self.url + "/v1.0/domains", headers=self.h).json()["value"]
        self.assertEqual(d[0]["id"], self.doc["initialDomain"])
        self.assertTrue(d[0]["isVerified"])

    def test_tenant_isolation_with_second_tenant(self):
        out = subprocess.run([BINARY, "tenant", "create", "--data-dir", self.server.data_dir,
                              "--name", "Fabrikam", "--country", "FR"], capture_output=True, text=True, check=True)
        other = json.loads(out.stdout)
        self.assertEqual(other["region"], "EMEA")
        self.assertTrue(other["partition"].startswith("emea-"))
        mine = self.create_user("secret-agent", "Secret Agent")
        oh = bearer(self.server.token(other))
        self.assert_graph_error(self.s.get(self.url + "/v1.0/users/" + mine["id"], headers=oh), 404)
        self.assert_graph_error(self.s.patch(self.url + "/v1.0/users/" + mine["id"], json={"jobTitle": "x"}, headers=oh), 404)
        self.assert_graph_error(self.s.delete(self.url + "/v1.0/users/" + mine["id"], headers=oh), 404)
        names = [u["displayName"] for u in self.s.get(self.url + "/v1.0/users?$top=999", headers=oh).json()["value"]]
        self.assertNotIn("Secret Agent", names)
        # A token of one tenant cannot be redeemed at another tenant's token endpoint.
        r = self.s.post(self.url + "/%s/oauth2/v2.0/token" % other["tenantId"], data={
            "grant_type": "client_credentials", "client_id": self.doc["bootstrapApplication"]["appId"],
            "client_secret": self.doc["bootstrapApplication"]["clientSecret"], "scope": self.doc["graphScope"]})
        self.assertIn(r.status_code, (400, 401))


class Fairness(unittest.TestCase):
    """Password hashes cannot take the server: they wait for a bounded gate, a saturated gate
    answers 503 with Retry-After, and probes and other tenants' reads answer meanwhile."""

    def test_saturated_hashing_refuses_and_others_keep_being_served(self):
        import concurrent.futures
        server = Server(password_iterations=3000000).start()  # about a second a hash here
        try:
            first = server.first_tenant()
            second = json.loads(subprocess.run(
                [BINARY, "tenant", "create", "--data-dir", server.data_dir, "--name", "Second",
                 "--country", "FR"], check=True, capture_output=True, text=True).stdout)
            tokens = {d["tenantId"]: server.token(d) for d in (first, second)}

            def create(doc, i):
                body = {"accountEnabled": True, "displayName": "U%d" % i, "mailNickname": "u%d" % i,
                        "userPrincipalName": "u%d@%s" % (i, doc["initialDomain"]),
                        "passwordProfile": {"password": "Xy7!abcdefgh%d" % i}}
                return server.session.post(server.url + "/v1.0/users", json=body,
                                           headers=bearer(tokens[doc["tenantId"]]), timeout=120)

            with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
                futures = [pool.submit(create, first if i % 2 else second, i) for i in range(12)]
                time.sleep(0.5)
                # Meanwhile: probes at once, and a read of a tenant that hashes nothing.
                t = time.time()
                self.assertEqual(server.session.get(server.url + "/healthz").status_code, 200)
                self.assertLess(time.time() - t, 0.5)
                t = time.time()
                read = server.session.get(server.url + "/v1.0/users/" + first["administrator"]["id"],
                                          headers=bearer(tokens[first["tenantId"]]))
                self.assertEqual(read.status_code, 200, read.text)
                # Queued behind the twelve hashes (about a second each) it would take 6 s or
                # more; the bound leaves room for a machine busy with other tests (2 s was
                # exceeded under ctest -j2). The latency itself is bench/noisy_neighbour.sh's.
                self.assertLess(time.time() - t, 4.0)
                results = [f.result() for f in futures]
            statuses = sorted(r.status_code for r in results)
            self.assertIn(201, statuses)
            refused = [r for r in results if r.status_code in (429, 503)]
            self.assertTrue(refused, statuses)
            for r in refused:
                self.assertEqual(r.headers.get("Retry-After"), "1")
                self.assertIn(r.json()["error"]["code"], ("TooManyRequests", "ServiceUnavailable"))
            self.assertEqual(len(statuses), statuses.count(201) + len(refused), statuses)
        finally:
            server.cleanup()


class Startup(unittest.TestCase):
    def test_a_first_tenant_file_is_never_overwritten(self):
        # A deployment without tenants whose first-tenant.json exists (its store was lost or
        # could not be read) stops loudly instead of minting a second "first tenant".
        server = Server()
        try:
            path = os.path.join(server.data_dir, "first-tenant.json")
            with open(path, "w") as f:
                f.write('{"tenantId": "the original"}')
            with self.assertRaises(RuntimeError) as err:
                server.start()
            self.assertIn("first-tenant.json exists", str(err.exception))
            with open(path) as f:
                self.assertEqual(json.load(f)["tenantId"], "the original")
        finally:
            server.cleanup()

    def test_password_algorithm_flags(self):
        # Argon2id is selected and its parameters logged; users are created under it.
        server = Server(extra_args=["--password-algorithm", "argon2id",
                                    "--argon2-params", "m=1024,t=1,p=1"]).start()
        try:
            self.assertIn("new password hashes: argon2id (m=1024,t=1,p=1)", server.read_log())
            doc = server.first_tenant()
            r = server.session.post(server.url + "/v1.0/users", headers=bearer(server.token(doc)),
                                    json={"accountEnabled": True, "displayName": "Argon",
                                          "mailNickname": "argon",
                                          "userPrincipalName": "argon@" + doc["initialDomain"],
                                          "passwordProfile": {"password": "Xy7!" + os.urandom(8).hex()}})
            self.assertEqual(r.status_code, 201, r.text)
        finally:
            server.cleanup()
        # Settings that could not be hashed (or verified) stop the server before it starts.
        for args in (["--password-algorithm", "bcrypt"],
                     ["--password-algorithm", "argon2id", "--argon2-params", "m=4194304,t=1,p=1"],
                     ["--password-iterations", "0"]):
            data_dir = tempfile.mkdtemp(prefix="meridian-e2e-")
            try:
                run = subprocess.run([BINARY, "serve", "--data-dir", data_dir, "--port", "0", *args],
                                     capture_output=True, text=True, timeout=30)
                self.assertEqual(run.returncode, 2, (args, run.stdout, run.stderr))
                self.assertFalse(os.path.exists(os.path.join(data_dir, "first-tenant.json")), args)
            finally:
                shutil.rmtree(data_dir, ignore_errors=True)
        # A cluster node's TOML keys replace the flags: a bad one stops the node before it starts.
        work = tempfile.mkdtemp(prefix="meridian-e2e-")
        try:
            config = os.path.join(work, "n1.toml")
            with open(config, "w") as f:
                f.write('node = "n1"\nregion = "emea"\ndatacenter = "dc1"\ncerts = "%s"\n'
                        'public_url = "https://localhost:1"\netcd = ["127.0.0.1:1"]\n'
                        'data_dir = "%s"\npassword_algorithm = "bcrypt"\n' % (work, work))
            run = subprocess.run([BINARY, "serve", "--config", config, "--password-algorithm",
                                  "argon2id"], capture_output=True, text=True, timeout=30)
            self.assertEqual(run.returncode, 2, (run.stdout, run.stderr))
            self.assertIn("bcrypt", run.stderr)
        finally:
            shutil.rmtree(work, ignore_errors=True)


def files_holding(root, needle):
    """Every file under `root` whose bytes contain `needle`."""
    found = []
    for dirpath, _, names in os.walk(root):
        for name in names:
            with open(os.path.join(dirpath, name), "rb") as f:
                if needle in f.read():
                    found.append(os.path.join(dirpath, name))
    return found


class SigningKeysAtRest(unittest.TestCase):
    def jwks_kids(self, server, doc):
        r = server.session.get(server.url + "/%s/discovery/v2.0/keys" % doc["tenantId"])
        r.raise_for_status()
        return [k["kid"] for k in r.json()["keys"]]

    def test_keys_are_sealed_under_the_generated_kek_which_a_restart_needs(self):
        server = Server().start()
        try:
            kek = os.path.join(server.data_dir, "kek.key")
            self.assertEqual(stat.S_IMODE(os.stat(kek).st_mode), 0o600)
            self.assertIn("generated a key-encryption key in " + kek, server.read_log())
            doc = server.first_tenant()
            kids = self.jwks_kids(server, doc)
            self.assertEqual(len(kids), 1)
            server.stop()
            # No private key in clear in any partition's files (the TLS key, outside them, is
            # a PEM: the scan does see one).
            partitions = os.path.join(server.data_dir, "partitions")
            self.assertEqual(files_holding(partitions, b"PRIVATE KEY"), [])
            self.assertEqual(files_holding(os.path.join(server.data_dir, "tls"), b"PRIVATE KEY"),
                             [os.path.join(server.data_dir, "tls", "key.pem")])

            # Without its KEK the deployment does not start, and says which KEK it needs; none
            # is made in its place.
            with open(kek) as f:
                kek_text = f.read().strip()
            os.rename(kek, kek + ".away")
            with self.assertRaises(RuntimeError) as err:
                server.start()
            self.assertIn("sealed under the key-encryption key", str(err.exception))
            self.assertFalse(os.path.exists(kek))

            # Given in the environment instead, it opens the same key, which signs on.
            server.env = {"MERIDIAN_KEK": kek_text}
            server.start()
            self.assertEqual(self.jwks_kids(server, doc), kids)
            token = server.token(doc)
            header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
            self.assertEqual([header["kid"]], kids)
            r = server.session.get(server.url + "/v1.0/organization", headers=bearer(token))
            self.assertEqual(r.status_code, 200, r.text)
            self.assertFalse(os.path.exists(kek))
        finally:
            server.cleanup()

    def test_an_operator_kek_file_and_a_wrong_one(self):
        server = Server()
        try:
            kek = os.path.join(server.data_dir, "operator-kek")
            out = subprocess.run([BINARY, "kek", "create", "--out", kek], capture_output=True,
                                 text=True)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertEqual(stat.S_IMODE(os.stat(kek).st_mode), 0o600)
            again = subprocess.run([BINARY, "kek", "create", "--out", kek], capture_output=True,
                                   text=True)
            self.assertNotEqual(again.returncode, 0)
            self.assertIn("never overwritten", again.stderr)

            server.extra_args = ["--kek-file", kek]
            server.start()
            self.assertFalse(os.path.exists(os.path.join(server.data_dir, "kek.key")))
            server.stop()
            other = os.path.join(server.data_dir, "other-kek")
            subprocess.run([BINARY, "kek", "create", "--out", other], check=True,
                           capture_output=True)
            server.extra_args = ["--kek-file", other]
            with self.assertRaises(RuntimeError) as err:
                server.start()
            self.assertIn("this process has the key-encryption key", str(err.exception))
        finally:
            server.cleanup()


class Durability(unittest.TestCase):
    def test_restart_and_kill9_lose_nothing_acknowledged(self):
        server = Server().start()
        try:
            doc = server.first_tenant()
            h = bearer(server.token(doc))
            acked = []
            for i in range(40):
                r = server.session.post(server.url + "/v1.0/users", headers=h, json={
                    "accountEnabled": True, "displayName": "Durable %d" % i, "mailNickname": "d%d" % i,
                    "userPrincipalName": "d%d@%s" % (i, doc["initialDomain"]),
                    "passwordProfile": {"password": "Acked!Pw-%03d" % i}})
                self.assertEqual(r.status_code, 201, r.text)
                acked.append(r.json()["id"])
            server.kill9()
            server.start()
            h = bearer(server.token(doc))
            for i in acked:
                self.assertEqual(server.session.get(server.url + "/v1.0/users/" + i, headers=h).status_code, 200)
            server.stop()
            server.start()
            h = bearer(server.token(doc))
            r = server.session.get(server.url + "/v1.0/users/$count", headers=dict(h, ConsistencyLevel="eventual"))
            self.assertEqual(int(r.text), 41)
        finally:
            server.cleanup()


if __name__ == "__main__":
    unittest.main()
