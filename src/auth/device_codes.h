// The device authorization grant (RFC 8628): a device without a browser shows a short user code;
// the user enters it on another device at the verification page, signs in and approves; the
// device meanwhile polls the token endpoint with its device code. Both codes are kept as grants
// (directory/grants.h) for 15 minutes: the device's record (kDeviceCodeGrant, under the hash of
// the device code: the client, the scopes, the state of the approval, the last poll) and the user
// code's (kUserCodeGrant, under the hash of the normalized user code: which device record it
// approves). Every change is a check-and-set, so a code is approved once and redeemed once.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/random.h"
#include "common/status.h"
#include "directory/grants.h"

namespace meridian::auth {

inline constexpr int64_t kDeviceCodeLifetimeMs = 15 * 60'000;
inline constexpr int64_t kDevicePollIntervalMs = 5'000;

struct DeviceAuthorization {
  std::string device_code;  // the device's secret, polled with
  std::string user_code;    // "ABCD-EFGH": 8 letters a person types
  int64_t expires_in_s = kDeviceCodeLifetimeMs / 1000;
  int64_t interval_s = kDevicePollIntervalMs / 1000;
};

// The sign-in a device's approval carries to its tokens.
struct DeviceApproval {
  std::string client_id;
  std::string scope;
  std::string user_id;
  int64_t auth_time_ms = 0;
  std::vector<std::string> amr;
};

class DeviceCodes {
 public:
  // `store` and `random` must outlive it.
  DeviceCodes(directory::GrantStore* store, Random* random);

  // Starts an authorization of client `client_id` for `scope`.
  void Start(const directory::SecurityContext& ctx, std::string client_id, std::string scope,
             std::function<void(Result<DeviceAuthorization>)> done);

  // The client and scopes a user code stands for, to show on the verification page; NotFound for
  // an unknown, expired or used code (case and dashes ignored).
  void Describe(const directory::SecurityContext& ctx, std::string_view user_code,
                std::function<void(Result<DeviceApproval>)> done);

  // The signed-in user approves (or, `approve` false, denies) the authorization of `user_code`.
  // NotFound for an unknown, expired or already answered code.
  void Answer(const directory::SecurityContext& ctx, std::string_view user_code, bool approve,
              DeviceApproval signed_in, std::function<void(Status)> done);

  // The device polls with `device_code` for client `client_id`. Errors, kUnauthenticated with
  // RFC 8628's codes as graph_code: authorization_pending (not answered yet), slow_down (polled
  // again within the interval), access_denied, expired_token; invalid_grant for an unknown code,
  // another client's, or one redeemed already. Approved: the approval, once.
  void Poll(const directory::SecurityContext& ctx, std::string_view device_code,
            std::string_view client_id, std::function<void(Result<DeviceApproval>)> done);

  // "ABCD-EFGH" for any spelling of it ("abcdefgh", "ABCD EFGH"); empty when it is not one.
  static std::string NormalizeUserCode(std::string_view code);

 private:
  directory::GrantStore* const store_;
  Random* const random_;
};

}  // namespace meridian::auth
