#include "auth/pushed_requests.h"

#include <boost/json.hpp>

#include "common/encoding.h"
#include "directory/records.h"

namespace meridian::auth {
namespace json = boost::json;

void PushRequest(directory::GrantStore* store, Random* random,
                 const directory::SecurityContext& ctx, std::string client_id, Params params,
                 std::function<void(Result<std::string>)> done) {
  std::string secret = Base64UrlEncode(random->Bytes(32));
  json::array kept;
  for (auto& [k, v] : params) kept.push_back(json::array{k, v});
  directory::CreateGrant(store, ctx, directory::kPushedRequestGrant,
                         directory::GrantHandle(secret),
                         json::object{{"client", client_id}, {"params", std::move(kept)}},
                         kPushedRequestLifetimeMs,
                         [secret, done = std::move(done)](Result<directory::Grant> g) {
                           if (!g.ok()) return done(g.status());
                           done(std::string(kRequestUriPrefix) + secret);
                         });
}

void TakePushedRequest(directory::GrantStore* store, const directory::SecurityContext& ctx,
                       std::string_view request_uri, std::string_view client_id,
                       std::function<void(Result<Params>)> done) {
  auto unknown = [] { return NotFound("The request_uri is unknown, expired or used."); };
  if (!StartsWith(request_uri, kRequestUriPrefix)) return done(unknown());
  std::string secret(request_uri.substr(kRequestUriPrefix.size()));
  auto taken = std::make_shared<json::object>();
  store->UpdateGrant(
      ctx, directory::kPushedRequestGrant, directory::GrantHandle(secret),
      [client = std::string(client_id), taken, unknown](
          const std::optional<directory::Grant>& current,
          int64_t) -> Result<directory::GrantChange> {
        if (!current || directory::Str(current->data, "client") != client) return unknown();
        *taken = current->data;
        return directory::GrantChange{};  // spent
      },
      [taken, done = std::move(done)](Result<directory::Grant> spent) {
        if (!spent.ok()) return done(spent.status());
        Params params;
        for (const auto& kv : taken->at("params").as_array()) {
          const json::array& pair = kv.as_array();
          params.emplace_back(pair[0].as_string(), pair[1].as_string());
        }
        done(std::move(params));
      });
}

}  // namespace meridian::auth
