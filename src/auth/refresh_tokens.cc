#include "auth/refresh_tokens.h"

#include <boost/json.hpp>

#include "auth/oauth_errors.h"
#include "common/encoding.h"
#include "crypto/sha.h"
#include "directory/records.h"

namespace meridian::auth {
namespace json = boost::json;
using directory::Grant;
using directory::GrantChange;
using directory::Int;
using directory::Str;
using directory::StringArray;
using directory::Strings;
using directory::kRefreshTokenGrant;

namespace {

struct Parsed {
  std::string family_handle;  // the grant's handle: the hash of the family id
  std::string secret_hash;
};

std::optional<Parsed> Parse(std::string_view token) {
  size_t dot = token.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  auto family = Base64UrlDecode(token.substr(0, dot));
  auto secret = Base64UrlDecode(token.substr(dot + 1));
  if (!family || family->size() != 16 || !secret || secret->size() != 32) return std::nullopt;
  return Parsed{directory::GrantHandle(*family), Base64UrlEncode(crypto::Sha256(*secret))};
}

RefreshFamily FamilyOf(const json::object& data) {
  return {Str(data, "user"), Str(data, "client"), Str(data, "scope"), Int(data, "authTime"),
          Strings(data, "amr")};
}

}  // namespace

RefreshTokens::RefreshTokens(directory::GrantStore* store, Random* random, RefreshPolicy policy)
    : store_(store), random_(random), policy_(policy) {}

void RefreshTokens::Issue(const directory::SecurityContext& ctx, const RefreshFamily& family,
                          std::function<void(Result<std::string>)> done) {
  std::string id = random_->Bytes(16), secret = random_->Bytes(32);
  std::string token = Base64UrlEncode(id) + "." + Base64UrlEncode(secret);
  json::object data{
      {"user", family.user_id},    {"client", family.client_id},
      {"scope", family.scope},     {"authTime", family.auth_time_ms},
      {"amr", StringArray(family.amr)},     {"current", Base64UrlEncode(crypto::Sha256(secret))},
      {"replaced", json::array{}}, {"revoked", false}};
  directory::CreateGrant(
      store_, ctx, kRefreshTokenGrant, directory::GrantHandle(id), std::move(data),
      policy_.idle_lifetime_ms, [token, done = std::move(done)](Result<Grant> g) {
        if (!g.ok()) return done(g.status());
        done(token);
      });
}

void RefreshTokens::Redeem(const directory::SecurityContext& ctx, std::string_view token,
                           std::string_view client_id, std::function<void(Result<Redeemed>)> done) {
  auto parsed = Parse(token);
  if (!parsed) return done(InvalidGrant("The refresh token is malformed."));
  // The next secret is drawn before the write lock: the op carries only its hash.
  std::string next = random_->Bytes(32);
  std::string next_hash = Base64UrlEncode(crypto::Sha256(next));
  enum class Outcome { kRotated, kReused };
  auto outcome = std::make_shared<Outcome>(Outcome::kRotated);
  RefreshPolicy policy = policy_;
  std::string client(client_id), presented = parsed->secret_hash;
  store_->UpdateGrant(
      ctx, kRefreshTokenGrant, parsed->family_handle,
      [=](const std::optional<Grant>& current, int64_t now) -> Result<GrantChange> {
        if (!current) return InvalidGrant("The refresh token is unknown or has expired.");
        json::object data = current->data;
        if (data.at("revoked").as_bool()) {
          return InvalidGrant("The refresh token was revoked.");
        }
        if (Str(data, "client") != client) {
          return InvalidGrant("The refresh token was issued to another client.");
        }
        json::array& replaced = data["replaced"].as_array();
        if (Str(data, "current") != presented) {
          bool reused = false;
          for (const auto& h : replaced) reused |= h.is_string() && h.get_string() == presented;
          if (!reused) return InvalidGrant("The refresh token is unknown or has expired.");
          // A replaced token again: two parties hold the family. Revoke it, whoever is current.
          *outcome = Outcome::kReused;
          data["revoked"] = true;
          return GrantChange{std::move(data), current->expires_ms};
        }
        replaced.emplace_back(presented);
        while (replaced.size() > policy.remembered) replaced.erase(replaced.begin());
        data["current"] = next_hash;
        return GrantChange{std::move(data), now + policy.idle_lifetime_ms};
      },
      [outcome, family = std::string(token.substr(0, token.find('.'))), next,
       done = std::move(done)](Result<Grant> g) {
        if (!g.ok()) return done(g.status());
        if (*outcome == Outcome::kReused) {
          return done(InvalidGrant(
              "The refresh token was used already; its family is revoked. Sign in again."));
        }
        done(Redeemed{family + "." + Base64UrlEncode(next), FamilyOf(g->data)});
      });
}

void RefreshTokens::Revoke(const directory::SecurityContext& ctx, std::string_view token,
                           std::function<void(Status)> done) {
  auto parsed = Parse(token);
  if (!parsed) return done(InvalidGrant("The refresh token is malformed."));
  store_->UpdateGrant(
      ctx, kRefreshTokenGrant, parsed->family_handle,
      [presented = parsed->secret_hash](const std::optional<Grant>& current,
                                        int64_t) -> Result<GrantChange> {
        if (!current) return InvalidGrant("The refresh token is unknown or has expired.");
        json::object data = current->data;
        // Only a holder of one of the family's tokens may revoke it.
        bool held = Str(data, "current") == presented;
        for (const auto& h : data["replaced"].as_array()) {
          held |= h.is_string() && h.get_string() == presented;
        }
        if (!held) return InvalidGrant("The refresh token is unknown or has expired.");
        data["revoked"] = true;
        return GrantChange{std::move(data), current->expires_ms};
      },
      [done = std::move(done)](Result<Grant> g) { done(g.status()); });
}

}  // namespace meridian::auth
