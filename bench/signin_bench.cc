// signin_bench: what the token service's user grants cost one core, beside what they cannot avoid
// (issue 7's figures), measured side by side in one run over a real directory on disk (synced
// writes, as the server's):
//   - RS256 signatures with the service's own key, and refresh-token redemptions (each rotates
//     the family, a synced write, and signs one access token: scope "offline_access User.Read",
//     no ID token);
//   - PBKDF2-HMAC-SHA256 verifications at 600,000 iterations, and password grants at the same
//     parameters (the hash, the lockout read, consent, the token, the sign-in log's write);
//   - the authorization code flow end to end: the authorize endpoint with an SSO session answers
//     a code (a synced write), and the token endpoint redeems it with PKCE and the client's
//     secret (a synced write, one signature; scope "User.Read").
// Each figure is the median of --reps runs of --seconds each, on this thread.
//
//   build/bench/meridian_signin_bench [--seconds=2] [--reps=3]
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

#include "auth/authorization_codes.h"
#include "auth/sign_in_pages.h"
#include "auth/token_service.h"
#include "common/encoding.h"
#include "crypto/password.h"
#include "crypto/sealed.h"
#include "directory/directory.h"
#include "directory/first_party.h"
#include "directory/testing/contexts.h"
#include "measure.h"

namespace meridian::bench {
namespace {

namespace json = boost::json;
using Form = std::vector<std::pair<std::string, std::string>>;

void Print(const std::string& what, Rate r) {
  std::printf("| %-58s | %10.1f | %14.1f | %8.3f ms |\n", what.c_str(), r.per_wall_second,
              r.per_cpu_second, 1000.0 / r.per_cpu_second);
}

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "signin_bench: %s\n", what.c_str());
  std::exit(1);
}

json::object Ok(const auth::TokenResult& r, const char* what) {
  if (auto* e = std::get_if<auth::OAuthError>(&r)) Fail(std::string(what) + ": " + e->description);
  return std::get<json::object>(r);
}

// The value of `name` in a redirect's query.
std::string QueryParam(const std::string& location, const std::string& name) {
  size_t at = location.find(name + "=");
  if (at == std::string::npos) return "";
  size_t end = location.find('&', at);
  return *FormUrlDecode(location.substr(at + name.size() + 1,
                                        end == std::string::npos ? end : end - at - name.size() - 1));
}

int Main(int argc, char** argv) {
  double seconds = 2;
  int reps = 3;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--seconds=", 0) == 0) {
      seconds = std::atof(a.c_str() + 10);
    } else if (a.rfind("--reps=", 0) == 0) {
      reps = std::atoi(a.c_str() + 7);
    } else {
      std::fprintf(stderr, "usage: %s [--seconds=2] [--reps=3]\n", argv[0]);
      return 2;
    }
  }
  std::string dir_template = "/tmp/meridian-signin-bench-XXXXXX";
  std::string dir = mkdtemp(dir_template.data());
  directory::DirectoryOptions o;
  o.data_dir = dir;
  o.password_hashing = crypto::PasswordHashing::Pbkdf2(600000);
  auto opened = directory::Directory::Open(o);
  if (!opened.ok()) Fail(opened.status().ToString());
  directory::Directory& d = **opened;
  auto tenant = d.CreateTenant("Bench Sign-in", "DE");
  if (!tenant.ok()) Fail(tenant.status().ToString());
  auto admin = testing::ContextForTest::User(tenant->tenant.id, tenant->admin_id);
  auto service = testing::ContextForTest::TokenService(tenant->tenant.id);

  // A user, a public client that allows the password grant, a web application with a secret;
  // the user consented to User.Read for both.
  const std::string password = "Quiet!Harbor-47x";
  std::string upn = "adele@" + tenant->tenant.domains[0];
  auto user = d.Create(admin, *directory::FindType("user"),
                       {{"accountEnabled", true},
                        {"displayName", "Adele Vance"},
                        {"mailNickname", "adele"},
                        {"userPrincipalName", upn},
                        {"passwordProfile",
                         {{"password", password}, {"forceChangePasswordNextSignIn", false}}}});
  if (!user.ok()) Fail(user.status().ToString());
  const std::string redirect = "https://app.example/cb";
  auto app = [&](json::object props) {
    auto a = d.Create(admin, *directory::FindType("application"), props);
    if (!a.ok()) Fail(a.status().ToString());
    std::string app_id(a->object.data.at("appId").as_string());
    auto sp = d.Create(admin, *directory::FindType("servicePrincipal"), {{"appId", app_id}});
    if (!sp.ok()) Fail(sp.status().ToString());
    std::optional<Status> consented;
    d.ConsentForUser(service, user->object.id, sp->object.id, directory::kGraphAppId,
                     {"User.Read"}, [&](Result<directory::WriteResult> w) { consented = w.status(); });
    if (!consented->ok()) Fail(consented->ToString());
    return std::make_pair(app_id, a->object.id);
  };
  std::string console = app({{"displayName", "Console"}, {"isFallbackPublicClient", true}}).first;
  auto [web, web_object] = app({{"displayName", "Web"}, {"web", {{"redirectUris", json::array{redirect}}}}});
  auto secret = d.AddPassword(admin, web_object, json::object());
  if (!secret.ok()) Fail(secret.status().ToString());
  std::string web_secret(secret->at("secretText").as_string());

  auth::TokenServiceOptions to;
  to.public_url = "https://login.bench";
  crypto::Kek kek = crypto::Kek::Generate(*d.random());
  auth::TokenService tokens(&d, kek, to);
  if (Status s = tokens.Start(); !s.ok()) Fail(s.ToString());
  auth::SignInPages pages(&d, &tokens, kek, std::string(32, 'k'));
  const std::string tid = tenant->tenant.id;

  std::printf("meridian_signin_bench --seconds=%g --reps=%d\n", seconds, reps);
  std::printf("median of %d runs of %g s, one thread, synced writes\n\n", reps, seconds);
  std::printf("| %-58s | %10s | %14s | %11s |\n", "operation", "per second", "per CPU-second",
              "CPU each");
  std::printf("| %-58s | %10s | %14s | %11s |\n", "---", "---:", "---:", "---:");

  json::object claims{{"aud", to.graph_resource}, {"iss", tokens.Issuer(tid)}, {"sub", "x"},
                      {"exp", 4102444800}, {"scp", "User.Read"}};
  Rate sign = Measure(seconds, reps, [&] {
    if (!tokens.Sign(claims).ok()) Fail("sign");
  });
  Print("RS256 signature (the service's key)", sign);

  auto password_grant = [&](const std::string& scope) {
    return Ok(tokens.Token(tid,
                           {{"grant_type", "password"},
                            {"client_id", console},
                            {"username", upn},
                            {"password", password},
                            {"scope", scope}},
                           std::nullopt),
              "password grant");
  };
  std::string refresh(password_grant("offline_access User.Read").at("refresh_token").as_string());
  Rate refreshes = Measure(seconds, reps, [&] {
    json::object t = Ok(tokens.Token(tid,
                                     {{"grant_type", "refresh_token"},
                                      {"client_id", console},
                                      {"refresh_token", refresh},
                                      {"scope", "offline_access User.Read"}},
                                     std::nullopt),
                        "refresh");
    refresh = std::string(t.at("refresh_token").as_string());
  });
  Print("refresh-token redemption (rotation, 1 signature)", refreshes);

  auto stored = crypto::HashPassword(password, std::string(crypto::kPasswordSaltBytes, 's'),
                                     crypto::PasswordHashing::Pbkdf2(600000));
  Rate pbkdf2 = Measure(seconds, reps, [&] {
    auto ok = crypto::VerifyPassword(password, *stored);
    if (!ok.ok() || !*ok) Fail("verify");
  });
  Print("PBKDF2-HMAC-SHA256 verification, i=600000", pbkdf2);
  Rate passwords = Measure(seconds, reps, [&] { password_grant("User.Read"); });
  Print("password grant (ROPC), i=600000", passwords);

  // The code flow: one sign-in on the page makes the SSO session; each flow then is the
  // authorize request with its cookie, and the code's redemption.
  const std::string verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
  Form request{{"client_id", web},
               {"response_type", "code"},
               {"redirect_uri", redirect},
               {"scope", "User.Read"},
               {"state", "s"},
               {"code_challenge", auth::AuthorizationCodes::Challenge(verifier)},
               {"code_challenge_method", "S256"}};
  std::string cookies;
  auto visit = [&](Form params, bool post) {
    auth::PageRequest r;
    r.tenant = tid;
    r.post = post;
    r.params = std::move(params);
    r.cookie_header = cookies;
    auth::PageResponse out;
    pages.Authorize(std::move(r), [&](auth::PageResponse p) { out = std::move(p); });
    for (const auto& [k, v] : out.headers) {
      if (k == "Set-Cookie") cookies += (cookies.empty() ? "" : "; ") + v.substr(0, v.find(';'));
    }
    return out;
  };
  auth::PageResponse page = visit(request, false);
  Form form = request;
  size_t at = page.body.find("name=\"csrf\" value=\"");
  if (at == std::string::npos) Fail("no sign-in form");
  form.emplace_back("csrf", page.body.substr(at + 19, 43));
  form.emplace_back("step", "password");
  form.emplace_back("username", upn);
  form.emplace_back("password", password);
  if (visit(form, true).status != 302) Fail("the first sign-in did not redirect");
  Rate flows = Measure(seconds, reps, [&] {
    auth::PageResponse back = visit(request, false);
    std::string location;
    for (const auto& [k, v] : back.headers) {
      if (k == "Location") location = v;
    }
    std::string code = QueryParam(location, "code");
    if (code.empty()) Fail("no code: " + location);
    Ok(tokens.Token(tid,
                    {{"grant_type", "authorization_code"},
                     {"client_id", web},
                     {"client_secret", web_secret},
                     {"code", code},
                     {"redirect_uri", redirect},
                     {"code_verifier", verifier}},
                    std::nullopt),
       "code redemption");
  });
  Print("authorization code flow (SSO session, redemption)", flows);

  std::printf("\nrefresh redemptions / RS256 signatures: %.1f%% (per CPU-second %.1f%%)\n",
              100 * refreshes.per_wall_second / sign.per_wall_second,
              100 * refreshes.per_cpu_second / sign.per_cpu_second);
  std::printf("password grants / PBKDF2 verifications: %.1f%% (per CPU-second %.1f%%)\n",
              100 * passwords.per_wall_second / pbkdf2.per_wall_second,
              100 * passwords.per_cpu_second / pbkdf2.per_cpu_second);
  opened->reset();
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace meridian::bench

int main(int argc, char** argv) { return meridian::bench::Main(argc, argv); }
