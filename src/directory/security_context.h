// SecurityContext: who is calling and in which tenant. The directory takes the tenant of every
// read and write from here and nowhere else, so a handler cannot reach another tenant's keys by
// passing the wrong id: it would need a context for that tenant.
//
// Contexts are minted in few places, all named by ContextMint below: the token service (from a
// verified token, and its own read-only context for the tenant in the token endpoint's URL), the
// directory's Provisioner (the operator's paths: tenant creation and break-glass), and tests. Any
// other code can copy a context it was given but cannot make one, so a new way to mint is a change
// to this file that a reviewer sees.
#pragma once

#include <string>

#include "meridian/op.pb.h"

namespace meridian::auth {
class TokenService;
}
namespace meridian::testing {
struct ContextForTest;
}

namespace meridian::directory {

class Provisioner;

class SecurityContext {
 public:
  enum class Kind { kUser, kServicePrincipal, kOperator, kTokenService };

  const std::string& tenant_id() const { return tenant_id_; }
  const std::string& principal_id() const { return principal_id_; }
  Kind kind() const { return kind_; }
  const std::string& app_id() const { return app_id_; }
  // The request id of the API call, recorded as the correlationId of its audit records.
  const std::string& correlation_id() const { return correlation_id_; }

  // The same caller, for the request `id`.
  SecurityContext WithCorrelationId(std::string id) const {
    SecurityContext c = *this;
    c.correlation_id_ = std::move(id);
    return c;
  }

  proto::Actor ToActor() const {
    proto::Actor a;
    a.set_id(principal_id_);
    a.set_display_name(display_name_);
    a.set_app_id(app_id_);
    a.set_kind(kind_ == Kind::kUser               ? "user"
               : kind_ == Kind::kServicePrincipal ? "servicePrincipal"
                                                  : "operator");
    return a;
  }

 private:
  friend class ContextMint;
  SecurityContext(std::string tenant_id, std::string principal_id, Kind kind, std::string app_id,
                  std::string display_name)
      : tenant_id_(std::move(tenant_id)),
        principal_id_(std::move(principal_id)),
        kind_(kind),
        app_id_(std::move(app_id)),
        display_name_(std::move(display_name)) {}

  std::string tenant_id_;
  std::string principal_id_;
  Kind kind_;
  std::string app_id_;
  std::string display_name_;
  std::string correlation_id_;
};

// The only ways to make a SecurityContext, open to the classes named here.
class ContextMint {
 private:
  friend class ::meridian::auth::TokenService;
  friend class Provisioner;
  friend struct ::meridian::testing::ContextForTest;

  // A principal authenticated by a verified token of `tenant_id`.
  static SecurityContext Principal(std::string tenant_id, std::string principal_id,
                                   SecurityContext::Kind kind, std::string app_id,
                                   std::string display_name) {
    return SecurityContext(std::move(tenant_id), std::move(principal_id), kind, std::move(app_id),
                           std::move(display_name));
  }
  // The deployment's operator acting on one tenant.
  static SecurityContext Operator(std::string tenant_id) {
    return SecurityContext(std::move(tenant_id), "", SecurityContext::Kind::kOperator, "",
                           "Meridian operator");
  }
  // The token service reading a tenant's clients to authenticate them; never writes.
  static SecurityContext TokenService(std::string tenant_id) {
    return SecurityContext(std::move(tenant_id), "", SecurityContext::Kind::kTokenService, "",
                           "Token service");
  }
};

}  // namespace meridian::directory
