// The second factor of the sign-in pages (auth/sign_in_pages.h): the code of a registered
// authenticator or a recovery code, and the registration of an authenticator when the user's
// per-user MFA state asks for one and none is registered.
#include <boost/json.hpp>

#include "auth/sign_in_flow.h"
#include "auth/token_issuer.h"
#include "auth/token_service.h"
#include "common/encoding.h"
#include "crypto/totp.h"
#include "directory/lockout.h"
#include "directory/records.h"
#include "web/html.h"
#include "web/qr.h"

namespace meridian::auth {
namespace json = boost::json;
using directory::Str;

namespace {

// How a second factor is recorded in amr (RFC 8176): a one-time code, and so more than one factor.
const std::vector<std::string> kTotpAmr{"pwd", "otp", "mfa"};
const std::vector<std::string> kRecoveryCodeAmr{"pwd", "mfa"};

// Where a user's authenticator seed belongs when sealed (crypto/sealed.h).
crypto::SealLabel SeedLabel(const std::string& tenant_id, const std::string& user_id) {
  return {"totp-seed", tenant_id, user_id};
}

// The lockout record of a user's second step (directory/lockout.h): wrong codes counted across
// sign-ins, so that a new password sign-in does not buy new guesses.
std::string SecondFactorLock(std::string_view user_id) {
  return directory::LockoutHandle("second-factor:" + std::string(user_id));
}

Status WrongCodeStatus() {
  return Status(Code::kUnauthenticated, "The second-factor code was not right.", "AADSTS500121");
}

// The digits of a code as typed ("123 456" is "123456").
std::string Compact(std::string_view code) {
  std::string out;
  for (char c : code) {
    if (c != ' ' && c != '-') out.push_back(c);
  }
  return out;
}

}  // namespace

void SignInPages::AfterPassword(std::shared_ptr<Flow> flow, const directory::Object& user,
                                int64_t auth_time_ms) const {
  directory::SecurityInfo info = directory::SecurityInfoOf(user);
  if (!info.totp_sealed_seed.empty()) {
    return Pend(flow, {{"stage", "mfa"}, {"user", user.id}, {"authTime", auth_time_ms}},
                [this, flow](std::string ticket) { ShowCodeChallenge(flow, ticket, ""); });
  }
  if (!info.mfa_required()) return StartSession(flow, user, auth_time_ms, {"pwd"});
  // Registration: the seed is sealed before it is kept, and shown once, on this page.
  std::string seed = crypto::NewTotpSecret(*directory_->random());
  std::string sealed = crypto::Seal(kek_, SeedLabel(flow->call->tenant.id, user.id), seed,
                                    *directory_->random());
  Pend(flow,
       {{"stage", "enrol"},
        {"user", user.id},
        {"authTime", auth_time_ms},
        {"seed", Base64UrlEncode(sealed)}},
       [this, flow, seed](std::string ticket) { ShowEnrolment(flow, ticket, seed, ""); });
}

void SignInPages::ShowCodeChallenge(std::shared_ptr<Flow> flow, std::string ticket,
                                    std::string error) const {
  std::string content =
      "<p>Enter the code your authenticator app shows, or one of your recovery codes.</p>"
      "<form method=\"post\" action=\"" + web::Escape(flow->action) + "\">" +
      FormFields(*flow, "mfa") + Hidden("ticket", ticket) +
      "<label for=\"otc\">Code</label>"
      "<input id=\"otc\" name=\"otc\" type=\"text\" inputmode=\"numeric\" "
      "autocomplete=\"one-time-code\" maxlength=\"32\" required>"
      "<button type=\"submit\">Verify</button></form>";
  flow->Respond(HtmlPage("Enter code", std::move(error), content));
}

void SignInPages::CountAttempt(std::shared_ptr<Flow> flow,
                               std::function<void(int64_t attempt)> next) const {
  int limit = options_.max_code_failures;
  directory_->UpdateGrant(
      flow->ctx(), directory::kPendingSignInGrant, directory::GrantHandle(flow->Get("ticket")),
      [limit](const std::optional<directory::Grant>& current,
              int64_t) -> Result<directory::GrantChange> {
        if (!current) return NotFound("The sign-in ended.");
        int64_t attempts = directory::Int(current->data, "attempts");
        if (attempts >= limit) return directory::GrantChange{};  // spent: the sign-in ends
        json::object d = current->data;
        d["attempts"] = attempts + 1;
        return directory::GrantChange{std::move(d), current->expires_ms};
      },
      [this, flow, next = std::move(next)](Result<directory::Grant> counted) {
        if (counted.ok() && counted->data.contains("attempts")) {
          return next(directory::Int(counted->data, "attempts"));
        }
        if (!counted.ok() && counted.status().code() != Code::kNotFound) {
          return ShowSignIn(flow, std::string(kUnavailable));
        }
        ShowSignIn(flow, "Too many wrong codes. Sign in again.");
      });
}

void SignInPages::CheckCode(std::shared_ptr<Flow> flow) const {
  auto pending = Pending(*flow, "mfa");
  if (!pending) return ShowSignIn(flow, "The time to enter a code ran out. Sign in again.");
  auto user = directory_->FindUser(flow->ctx(), Str(*pending, "user"));
  if (!user.ok()) return ShowSignIn(flow, std::string(kUnavailable));
  // The user's second step is locked after too many wrong codes, whatever the sign-in: a new
  // password sign-in does not buy new guesses.
  auto lock = directory_->ReadGrant(flow->ctx(), directory::kLockoutGrant,
                                    SecondFactorLock(user->user.id));
  if (!lock.ok()) return ShowSignIn(flow, std::string(kUnavailable));
  if (directory::LockedUntil(*lock, directory_->clock()->NowMillis())) {
    tokens_->issuer().LogSignIn(
        *flow->call, &user->user, Str(user->user.data, "userPrincipalName"),
        Status(Code::kUnauthenticated, "The second step is locked.", "AADSTS50053"), {"pwd"},
        true);
    return ShowSignIn(flow, "Too many wrong codes. Try again later.");
  }
  CountAttempt(flow, [this, flow, pending = *pending, user = user->user](int64_t attempt) {
    // (The step is checked again under the write lock when it is spent.)
    directory::SecurityInfo info = directory::SecurityInfoOf(user);
    int64_t auth_time_ms = directory::Int(pending, "authTime");
    std::string code = Compact(flow->Get("otc"));
    auto again = [this, flow] {
      ShowCodeChallenge(flow, flow->Get("ticket"), "That code is not right. Try again.");
    };
    auto accepted = [this, flow, user, auth_time_ms, attempt, again](std::vector<std::string> amr) {
      return [this, flow, user, auth_time_ms, attempt, again,
              amr](Result<directory::WriteResult> used) {
        if (!used.ok() && used.status().code() != Code::kNotFound &&
            used.status().code() != Code::kFailedPrecondition) {
          return ShowSignIn(flow, std::string(kUnavailable));
        }
        // A spent recovery code, or a time step used already, is a wrong code.
        if (!used.ok()) return WrongCode(flow, user, attempt, again);
        directory_->UpdateGrant(
            flow->ctx(), directory::kLockoutGrant, SecondFactorLock(user.id),
            [](const std::optional<directory::Grant>& current,
               int64_t) -> Result<directory::GrantChange> {
              if (!current) return directory::GrantChange{};
              return directory::AfterSuccess(*current);
            },
            [this, flow, user, auth_time_ms, amr](Result<directory::Grant>) {
              EndPending(flow, [this, flow, user, auth_time_ms, amr] {
                StartSession(flow, user, auth_time_ms, amr);
              });
            });
      };
    };
    if (code.size() == static_cast<size_t>(crypto::kTotpDigits)) {
      auto seed = crypto::Open(kek_, SeedLabel(flow->call->tenant.id, user.id),
                               info.totp_sealed_seed);
      if (!seed.ok()) return ShowSignIn(flow, std::string(kUnavailable));
      auto step = crypto::VerifyTotp(*seed, code, directory_->clock()->NowMillis(),
                                     info.totp_last_step);
      if (!step) return WrongCode(flow, user, attempt, again);
      // The step is spent under the write lock: of two sign-ins with one code, one passes.
      return directory_->UseTotpStep(flow->ctx(), user.id, *step, accepted(kTotpAmr));
    }
    if (code.empty() || code.size() > 32) return WrongCode(flow, user, attempt, again);
    directory_->UseRecoveryCode(flow->ctx(), user.id, crypto::RecoveryCodeHash(code),
                                accepted(kRecoveryCodeAmr));
  });
}

void SignInPages::WrongCode(std::shared_ptr<Flow> flow, const directory::Object& user,
                            int64_t attempt, std::function<void()> again) const {
  tokens_->issuer().LogSignIn(*flow->call, &user, Str(user.data, "userPrincipalName"),
                              WrongCodeStatus(), {"pwd"}, true);
  directory::LockoutPolicy policy;
  directory_->UpdateGrant(
      flow->ctx(), directory::kLockoutGrant, SecondFactorLock(user.id),
      [policy](const std::optional<directory::Grant>& current,
               int64_t now) -> Result<directory::GrantChange> {
        return directory::AfterFailure(current, now, policy);
      },
      [this, flow, attempt, again = std::move(again)](Result<directory::Grant> counted) {
        if (!counted.ok()) return ShowSignIn(flow, std::string(kUnavailable));
        if (attempt < options_.max_code_failures) return again();
        EndPending(flow,
                   [this, flow] { ShowSignIn(flow, "Too many wrong codes. Sign in again."); });
      });
}

void SignInPages::ShowEnrolment(std::shared_ptr<Flow> flow, std::string ticket,
                                std::string_view seed, std::string error) const {
  std::string upn = flow->Get("username");
  std::string uri = crypto::TotpUri(options_.totp_issuer, upn, seed);
  auto qr = web::QrSvg(uri, "QR code to add this account to an authenticator app");
  if (!qr.ok()) return ShowSignIn(flow, std::string(kUnavailable));
  std::string content =
      "<p>Your organization asks for a second step when you sign in. Scan this QR code with an "
      "authenticator app (Microsoft Authenticator, Google Authenticator, or another), then enter "
      "the code it shows.</p>" +
      *qr + "<p>Or enter this key in the app: <code>" + web::Escape(crypto::Base32Encode(seed)) +
      "</code></p>"
      "<form method=\"post\" action=\"" + web::Escape(flow->action) + "\">" +
      FormFields(*flow, "enrol") + Hidden("ticket", ticket) + Hidden("username", upn) +
      "<label for=\"otc\">Code</label>"
      "<input id=\"otc\" name=\"otc\" type=\"text\" inputmode=\"numeric\" "
      "autocomplete=\"one-time-code\" maxlength=\"8\" required>"
      "<button type=\"submit\">Verify</button></form>";
  flow->Respond(HtmlPage("Set up your authenticator app", std::move(error), content));
}

void SignInPages::Enrol(std::shared_ptr<Flow> flow) const {
  auto pending = Pending(*flow, "enrol");
  if (!pending) return ShowSignIn(flow, "The time to set up the app ran out. Sign in again.");
  CountAttempt(flow, [this, flow, pending = *pending](int64_t attempt) {
    std::string ticket = flow->Get("ticket");
    auto user = directory_->FindUser(flow->ctx(), Str(pending, "user"));
    auto sealed = Base64UrlDecode(Str(pending, "seed"));
    if (!user.ok() || !sealed) return ShowSignIn(flow, std::string(kUnavailable));
    auto seed = crypto::Open(kek_, SeedLabel(flow->call->tenant.id, user->user.id), *sealed);
    if (!seed.ok()) return ShowSignIn(flow, std::string(kUnavailable));
    auto step = crypto::VerifyTotp(*seed, Compact(flow->Get("otc")),
                                   directory_->clock()->NowMillis(), 0);
    if (!step) {
      return WrongCode(flow, user->user, attempt, [this, flow, ticket, seed = *seed] {
        ShowEnrolment(flow, ticket, seed, "That code is not right. Check the app and try again.");
      });
    }
    std::vector<std::string> codes = crypto::NewRecoveryCodes(*directory_->random());
    std::vector<std::string> hashes;
    for (const std::string& c : codes) hashes.push_back(crypto::RecoveryCodeHash(c));
    int64_t auth_time_ms = directory::Int(pending, "authTime");
    std::string user_id = user->user.id;
    directory_->RegisterTotp(
        flow->ctx(), user_id, std::move(*sealed), std::move(hashes),
        [this, flow, user = user->user, step = *step, codes, auth_time_ms](
            Result<directory::WriteResult> registered) {
          if (registered.status().code() == Code::kFailedPrecondition) {
            return ShowSignIn(flow, "An authenticator app is set up already. Sign in again.");
          }
          if (!registered.ok()) return ShowSignIn(flow, std::string(kUnavailable));
          // The code that proved the registration is spent like any other.
          directory_->UseTotpStep(
              flow->ctx(), user.id, step,
              [this, flow, user, codes, auth_time_ms](Result<directory::WriteResult> used) {
                if (!used.ok()) return ShowSignIn(flow, std::string(kUnavailable));
                EndPending(flow, [this, flow, user, codes, auth_time_ms] {
                  StartSession(flow, user, auth_time_ms, kTotpAmr, codes);
                });
              });
        });
  });
}

void SignInPages::ShowRecoveryCodes(std::shared_ptr<Flow> flow, const SignedIn& in,
                                    const std::vector<std::string>& codes) const {
  std::string list;
  for (const std::string& c : codes) list += "<li><code>" + web::Escape(c) + "</code></li>";
  std::string content =
      "<p>Your authenticator app is set up. Keep these recovery codes somewhere safe: each signs "
      "you in once if you lose your phone. They are not shown again.</p><ul>" + list +
      "</ul><form method=\"post\" action=\"" + web::Escape(flow->action) + "\">" +
      FormFields(*flow, "continue") + "<button type=\"submit\">Continue</button></form>";
  PageResponse out = HtmlPage("Save your recovery codes", "", content);
  for (auto& h : SessionHeaders(*flow, in)) out.headers.push_back(std::move(h));
  flow->Respond(std::move(out));
}

}  // namespace meridian::auth
