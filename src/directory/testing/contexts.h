// Test-only minting of security contexts, for unit tests, benchmarks that populate a store, and
// fakes. Production code must not include this header.
#pragma once

#include "directory/security_context.h"

namespace meridian::testing {

struct ContextForTest {
  static directory::SecurityContext User(std::string tenant_id, std::string user_id) {
    return directory::ContextMint::Principal(std::move(tenant_id), std::move(user_id),
                                             directory::SecurityContext::Kind::kUser, "",
                                             "Test user");
  }
  static directory::SecurityContext App(std::string tenant_id, std::string sp_id,
                                        std::string app_id = "") {
    return directory::ContextMint::Principal(std::move(tenant_id), std::move(sp_id),
                                             directory::SecurityContext::Kind::kServicePrincipal,
                                             std::move(app_id), "Test app");
  }
  static directory::SecurityContext Operator(std::string tenant_id) {
    return directory::ContextMint::Operator(std::move(tenant_id));
  }
  static directory::SecurityContext TokenService(std::string tenant_id) {
    return directory::ContextMint::TokenService(std::move(tenant_id));
  }
};

}  // namespace meridian::testing
