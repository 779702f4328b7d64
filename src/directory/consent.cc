// Directory's consent methods: the delegated permissions a user's sign-in may carry to a client
// (directory/permission_grants.h), read and granted by the sign-in pages.
#include <boost/json.hpp>

#include "common/encoding.h"
#include "directory/directory.h"
#include "directory/first_party.h"
#include "directory/permission_grants.h"
#include "store/tenant_view.h"

namespace meridian::directory {
namespace json = boost::json;
using store::TenantKeys;

Result<std::set<std::string>> Directory::GrantedScopes(const SecurityContext& ctx,
                                                       std::string_view client_sp,
                                                       std::string_view resource_app_id,
                                                       std::string_view user_id) const {
  MERIDIAN_ASSIGN_OR_RETURN(store::Partition * p, PartitionOf(ctx));
  auto view = TenantRead(p, ctx, true);
  TenantKeys keys(ctx.tenant_id());
  MERIDIAN_ASSIGN_OR_RETURN(auto resource,
                            IdByAppId(*view, keys, "servicePrincipal", resource_app_id));
  if (!resource) return std::set<std::string>();
  return directory::GrantedScopes(*view, keys, client_sp, *resource, user_id);
}

void Directory::ConsentForUser(const SecurityContext& ctx, std::string_view user_id,
                               std::string_view client_sp, std::string_view resource_app_id,
                               const std::set<std::string>& scopes, WriteDone done) {
  auto p = PartitionOf(ctx);
  if (!p.ok()) return done(p.status());
  TenantKeys keys(ctx.tenant_id());
  // Drawn before the write lock, in case the op needs them.
  std::string grant_id = random_->Uuid(), resource_sp_id = random_->Uuid();
  std::string user = AsciiLower(user_id), client = AsciiLower(client_sp);
  (*p)->WriteAsync(
      [&](const store::ReadView& partition_view, proto::Op* op) -> Status {
        Stamp(ctx, op);
        store::TenantView view(partition_view, ctx.tenant_id());
        MERIDIAN_ASSIGN_OR_RETURN(Object who, ReadObject(view, keys, "user", user));
        MERIDIAN_ASSIGN_OR_RETURN(auto kind, ReadKind(view, keys, client));
        if (!kind || *kind != "servicePrincipal") return NotFound("No such client.");
        MERIDIAN_ASSIGN_OR_RETURN(auto resource,
                                  IdByAppId(view, keys, "servicePrincipal", resource_app_id));
        if (!resource) {
          // A tenant made before first-party service principals were provisioned: Graph's is
          // made now, as Entra provisions a first-party application's on first use.
          if (resource_app_id != kGraphAppId) return NotFound("No such resource.");
          MERIDIAN_RETURN_IF_ERROR(SetPut(op, "servicePrincipal",
                                          GraphServicePrincipal(resource_sp_id), nullptr,
                                          "Add service principal"));
          resource = resource_sp_id;
        }
        // The user's own grant gains the scopes; made when the user has none.
        std::optional<Object> mine;
        MERIDIAN_ASSIGN_OR_RETURN(std::vector<Object> grants, GrantsOf(view, keys, client));
        for (Object& g : grants) {
          if (Str(g.data, "consentType") == "Principal" && Str(g.data, "principalId") == user &&
              Str(g.data, "resourceId") == *resource) {
            mine = std::move(g);
          }
        }
        std::set<std::string> all = scopes;
        if (mine) all.merge(SplitScopes(Str(mine->data, "scope")));
        std::string scope;
        for (const std::string& s : all) scope += (scope.empty() ? "" : " ") + s;
        if (mine) {
          const Object before = *mine;
          mine->data["scope"] = scope;
          return SetPut(op, "oauth2PermissionGrant", *mine, &before, "Consent to application");
        }
        Object grant;
        grant.id = grant_id;
        grant.data = {{"id", grant_id},          {"clientId", client},
                      {"consentType", "Principal"}, {"principalId", user},
                      {"resourceId", *resource},   {"scope", scope}};
        return SetPut(op, "oauth2PermissionGrant", grant, nullptr, "Consent to application");
      },
      [this, ctx, done = std::move(done)](Result<store::Partition::Ack> ack) {
        done(Written(ctx, {}, ack));
      });
}

}  // namespace meridian::directory
