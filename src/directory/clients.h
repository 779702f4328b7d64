// Clients of the token service: an application's client secret, checked against the hashes of
// its current credentials, and its service principal, which must exist and be enabled. Functions
// of one tenant's view.
#pragma once

#include <string_view>

#include "common/status.h"
#include "directory/api.h"
#include "store/keys.h"
#include "store/partition.h"

namespace meridian::directory {

// The application with client id `app_id` (its appId only: an object id is not a client id) and
// its service principal, when `secret` matches a credential not past its endDateTime at `now_ms`.
// Unauthenticated with OAuth's code ("invalid_client", "unauthorized_client") on any mismatch;
// other errors as the view's.
Result<Client> AuthenticateClient(const store::ReadView& view, const store::TenantKeys& keys,
                                  int64_t now_ms, std::string_view app_id,
                                  std::string_view secret);

// The application with client id `app_id` and its enabled service principal, with nothing
// proven (ClientDirectory::FindClient).
Result<Client> FindClient(const store::ReadView& view, const store::TenantKeys& keys,
                          std::string_view app_id);

}  // namespace meridian::directory
