#include "directory/clients.h"

#include <boost/json.hpp>

#include "common/clock.h"
#include "common/encoding.h"
#include "crypto/secret.h"

namespace meridian::directory {

namespace {

// The object of `type` whose appId is `app_id`, or nullopt.
Result<std::optional<Object>> ByAppId(const store::ReadView& view, const store::TenantKeys& keys,
                                      std::string_view type, std::string_view app_id) {
  MERIDIAN_ASSIGN_OR_RETURN(auto id, IdByAppId(view, keys, type, app_id));
  if (!id) return std::optional<Object>();
  MERIDIAN_ASSIGN_OR_RETURN(Object o, ReadObject(view, keys, type, *id));
  return std::optional<Object>(std::move(o));
}

Status NoApplication(std::string_view app_id) {
  return Status(Code::kUnauthenticated,
                "Application with identifier '" + std::string(app_id.substr(0, 64)) +
                    "' was not found in the directory.",
                "unauthorized_client");
}

// The client of `app`, once its service principal is known to exist and be enabled.
Result<Client> WithServicePrincipal(Object app, std::optional<Object> sp) {
  if (!sp) {
    return Status(Code::kUnauthenticated,
                  "The application has no service principal in this tenant.",
                  "unauthorized_client");
  }
  if (!Bool(sp->data, "accountEnabled", true)) {
    return Status(Code::kUnauthenticated, "The application is disabled.", "unauthorized_client");
  }
  return Client{std::move(app), std::move(*sp)};
}

}  // namespace

Result<Client> AuthenticateClient(const store::ReadView& view, const store::TenantKeys& keys,
                                  int64_t now_ms, std::string_view app_id,
                                  std::string_view secret) {
  auto fail = [] {
    return Status(Code::kUnauthenticated, "Invalid client secret provided.", "invalid_client");
  };
  if (!IsUuid(app_id)) return fail();
  MERIDIAN_ASSIGN_OR_RETURN(std::optional<Object> app, ByAppId(view, keys, "application", app_id));
  if (!app) return NoApplication(app_id);
  auto* hashes = app->secret.if_contains("clientSecrets");
  bool ok = false;
  std::string now = FormatIso8601(now_ms);
  auto* creds = app->data.if_contains("passwordCredentials");
  if (hashes && hashes->is_object() && creds && creds->is_array()) {
    for (const auto& cred : creds->get_array()) {
      if (!cred.is_object()) continue;
      std::string key_id = Str(cred.get_object(), "keyId");
      std::string end = Str(cred.get_object(), "endDateTime");
      auto* h = hashes->get_object().if_contains(key_id);
      if (!h || !h->is_string()) continue;
      // Every credential is compared, so timing does not tell which one matched.
      bool match = crypto::VerifyClientSecret(secret, h->get_string());
      ok = ok || (match && end > now);
    }
  }
  if (!ok) return fail();
  MERIDIAN_ASSIGN_OR_RETURN(std::optional<Object> sp,
                            ByAppId(view, keys, "servicePrincipal", app_id));
  return WithServicePrincipal(std::move(*app), std::move(sp));
}

Result<Client> FindClient(const store::ReadView& view, const store::TenantKeys& keys,
                          std::string_view app_id) {
  std::optional<Object> app;
  if (IsUuid(app_id)) {
    MERIDIAN_ASSIGN_OR_RETURN(app, ByAppId(view, keys, "application", app_id));
  }
  if (!app) return NoApplication(app_id);
  MERIDIAN_ASSIGN_OR_RETURN(std::optional<Object> sp,
                            ByAppId(view, keys, "servicePrincipal", app_id));
  return WithServicePrincipal(std::move(*app), std::move(sp));
}

}  // namespace meridian::directory
