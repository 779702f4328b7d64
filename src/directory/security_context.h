// SecurityContext: who is calling and in which tenant. The directory takes the tenant of every
// read and write from here and nowhere else, so a handler cannot reach another tenant's keys by
// passing the wrong id: it would need a context for that tenant, which only a verified token of
// that tenant (or the operator) yields.
#pragma once

#include <string>
#include <vector>

#include "meridian/op.pb.h"

namespace meridian::directory {

class SecurityContext {
 public:
  enum class Kind { kUser, kServicePrincipal, kOperator, kTokenService };

  // A principal authenticated by a verified token of `tenant_id` (auth/ makes these).
  static SecurityContext ForPrincipal(std::string tenant_id, std::string principal_id, Kind kind,
                                      std::string app_id, std::string display_name) {
    return SecurityContext(std::move(tenant_id), std::move(principal_id), kind, std::move(app_id),
                           std::move(display_name));
  }
  // The deployment's operator acting on one tenant (tenant creation, bootstrap).
  static SecurityContext ForOperator(std::string tenant_id) {
    return SecurityContext(std::move(tenant_id), "", Kind::kOperator, "", "Meridian operator");
  }
  // The token service reading a tenant's clients to authenticate them; never writes.
  static SecurityContext ForTokenService(std::string tenant_id) {
    return SecurityContext(std::move(tenant_id), "", Kind::kTokenService, "", "Token service");
  }

  const std::string& tenant_id() const { return tenant_id_; }
  const std::string& principal_id() const { return principal_id_; }
  Kind kind() const { return kind_; }
  const std::string& app_id() const { return app_id_; }

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
};

}  // namespace meridian::directory
