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

namespace {

Status Unknown() { return NotFound("The request_uri is unknown, expired or used already."); }

// The handle of `request_uri`'s grant; empty when it is not one of ours.
std::string HandleOf(std::string_view request_uri) {
  if (!StartsWith(request_uri, kRequestUriPrefix)) return "";
  return directory::GrantHandle(request_uri.substr(kRequestUriPrefix.size()));
}

Params ParamsOf(const json::object& data) {
  Params params;
  for (const auto& kv : data.at("params").as_array()) {
    const json::array& pair = kv.as_array();
    params.emplace_back(pair[0].as_string(), pair[1].as_string());
  }
  return params;
}

// Runs `decide` on the request's grant when it is `client`'s and opened (`opened`), or not.
void Change(directory::GrantStore* store, const directory::SecurityContext& ctx,
            std::string_view request_uri, std::string_view client, bool opened,
            std::function<Result<directory::GrantChange>(const directory::Grant&, int64_t)> decide,
            std::function<void(Result<directory::Grant>)> done) {
  std::string handle = HandleOf(request_uri);
  if (handle.empty()) return done(Unknown());
  store->UpdateGrant(
      ctx, directory::kPushedRequestGrant, handle,
      [client = std::string(client), opened, decide = std::move(decide)](
          const std::optional<directory::Grant>& current,
          int64_t now) -> Result<directory::GrantChange> {
        if (!current || directory::Str(current->data, "client") != client ||
            directory::Bool(current->data, "opened", false) != opened) {
          return Unknown();
        }
        return decide(*current, now);
      },
      std::move(done));
}

}  // namespace

void OpenPushedRequest(directory::GrantStore* store, const directory::SecurityContext& ctx,
                       std::string_view request_uri, std::string_view client_id,
                       int64_t sign_in_ms, std::function<void(Result<Params>)> done) {
  Change(
      store, ctx, request_uri, client_id, false,
      [sign_in_ms](const directory::Grant& current, int64_t now) -> Result<directory::GrantChange> {
        json::object d = current.data;
        d["opened"] = true;
        return directory::GrantChange{std::move(d), now + sign_in_ms};
      },
      [done = std::move(done)](Result<directory::Grant> opened) {
        if (!opened.ok()) return done(opened.status());
        done(ParamsOf(opened->data));
      });
}

Result<Params> ReadPushedRequest(const directory::GrantStore* store,
                                 const directory::SecurityContext& ctx,
                                 std::string_view request_uri, std::string_view client_id) {
  std::string handle = HandleOf(request_uri);
  if (handle.empty()) return Unknown();
  MERIDIAN_ASSIGN_OR_RETURN(auto found,
                            store->ReadGrant(ctx, directory::kPushedRequestGrant, handle));
  if (!found || directory::Str(found->data, "client") != client_id ||
      !directory::Bool(found->data, "opened", false)) {
    return Unknown();
  }
  return ParamsOf(found->data);
}

void SpendPushedRequest(directory::GrantStore* store, const directory::SecurityContext& ctx,
                        std::string_view request_uri, std::string_view client_id,
                        std::function<void(Status)> done) {
  Change(
      store, ctx, request_uri, client_id, true,
      [](const directory::Grant&, int64_t) -> Result<directory::GrantChange> {
        return directory::GrantChange{};
      },
      [done = std::move(done)](Result<directory::Grant> spent) { done(spent.status()); });
}

}  // namespace meridian::auth
