// In-memory fakes of the directory's two interfaces (directory/api.h), for unit tests of graph/
// and auth/. They hold objects in maps, record the contexts they are called with, and fail in
// the ways a test sets. Test-only; not thread-safe beyond what one test needs.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "directory/api.h"

namespace meridian::testing {

class FakeTenantDirectory : public directory::TenantDirectory {
 public:
  using Object = directory::Object;
  using SecurityContext = directory::SecurityContext;
  using TypeSchema = directory::TypeSchema;

  // Stores `o` (type and id set) as the one object of its type and id.
  void Put(Object o) { objects_[{o.type, o.id}] = std::move(o); }
  void Remove(const std::string& type, const std::string& id) { objects_.erase({type, id}); }

  // What AuthorizeRead answers; Ok by default.
  Status read_decision;
  // When set, every other call fails with it (an I/O error, say).
  std::optional<Status> failure;
  // The contexts the directory was called with, in order; and how many object reads were made.
  mutable std::vector<SecurityContext> calls;
  mutable int reads = 0;

  Status AuthorizeRead(const SecurityContext& ctx, authz::Action, std::string_view) const override {
    calls.push_back(ctx);
    return read_decision;
  }
  Result<Object> Get(const SecurityContext& ctx, const TypeSchema& type,
                     std::string_view id) const override {
    calls.push_back(ctx);
    if (failure) return *failure;
    ++reads;
    auto it = objects_.find({std::string(type.type), std::string(id)});
    if (it == objects_.end()) return directory::ObjectNotFound(id);
    return it->second;
  }
  Result<Object> Lookup(const SecurityContext& ctx, const TypeSchema& type,
                        std::string_view id) const override {
    return Get(ctx, type, id);
  }
  Result<Object> GetDirectoryObject(const SecurityContext& ctx, std::string_view) const override {
    return Unimplemented(ctx);
  }
  Result<directory::Page> List(const SecurityContext& ctx, const TypeSchema&,
                               const directory::ListQuery&) const override {
    return Unimplemented(ctx);
  }
  Result<int64_t> Count(const SecurityContext& ctx, const TypeSchema&) const override {
    return Unimplemented(ctx);
  }
  Result<boost::json::object> Organization(const SecurityContext& ctx) const override {
    return Unimplemented(ctx);
  }
  // When set, Create holds its WriteDone in `held_writes` for the test to answer, as a cluster
  // node answers once the write commits.
  bool hold_writes = false;
  std::vector<directory::WriteDone> held_writes;

  void Create(const SecurityContext& ctx, const TypeSchema&, const boost::json::object&,
              directory::WriteDone done) override {
    calls.push_back(ctx);
    if (hold_writes) return held_writes.push_back(std::move(done));
    done(Unimplemented(ctx));
  }
  void Update(const SecurityContext& ctx, const TypeSchema&, std::string_view,
              const boost::json::object&, std::optional<std::string_view>,
              directory::WriteDone done) override {
    done(Unimplemented(ctx));
  }
  void Delete(const SecurityContext& ctx, const TypeSchema&, std::string_view,
              std::optional<std::string_view>, directory::WriteDone done) override {
    done(Unimplemented(ctx));
  }
  void AddPassword(const SecurityContext& ctx, std::string_view, const boost::json::object&,
                   directory::WriteDone done) override {
    done(Unimplemented(ctx));
  }
  void RemovePassword(const SecurityContext& ctx, std::string_view, std::string_view,
                      directory::WriteDone done) override {
    done(Unimplemented(ctx));
  }
  void AddLink(const SecurityContext& ctx, std::string_view, const TypeSchema&, std::string_view,
               std::string_view, directory::WriteDone done) override {
    done(Unimplemented(ctx));
  }
  void RemoveLink(const SecurityContext& ctx, std::string_view, const TypeSchema&, std::string_view,
                  std::string_view, directory::WriteDone done) override {
    done(Unimplemented(ctx));
  }
  void IssueTemporaryAccessPass(const SecurityContext& ctx, std::string_view,
                                const boost::json::object&, directory::WriteDone done) override {
    done(Unimplemented(ctx));
  }
  Result<std::vector<boost::json::object>> TemporaryAccessPasses(const SecurityContext& ctx,
                                                                 std::string_view) const override {
    return Unimplemented(ctx);
  }
  void DeleteTemporaryAccessPass(const SecurityContext& ctx, std::string_view, std::string_view,
                                 directory::WriteDone done) override {
    done(Unimplemented(ctx));
  }
  Result<std::string> MfaRequirement(const SecurityContext& ctx, std::string_view) const override {
    return Unimplemented(ctx);
  }
  void SetMfaRequirement(const SecurityContext& ctx, std::string_view, std::string,
                         directory::WriteDone done) override {
    done(Unimplemented(ctx));
  }
  Result<directory::Page> ListLinks(const SecurityContext& ctx, std::string_view,
                                    directory::LinkDirection, std::string_view, bool, int,
                                    std::string_view) const override {
    return Unimplemented(ctx);
  }
  Result<directory::Page> ListAudit(const SecurityContext& ctx, int,
                                    std::string_view) const override {
    return Unimplemented(ctx);
  }
  Result<directory::Page> ListSignIns(const SecurityContext& ctx,
                                      const directory::SignInQuery&) const override {
    return Unimplemented(ctx);
  }

 private:
  Status Unimplemented(const SecurityContext& ctx) const {
    calls.push_back(ctx);
    if (failure) return *failure;
    return Status(Code::kUnsupported, "not faked");
  }
  std::map<std::pair<std::string, std::string>, Object> objects_;
};

class FakeClientDirectory : public directory::ClientDirectory {
 public:
  struct FakeClient {
    std::string tenant_id, app_id, secret;
    directory::Client client;
  };
  explicit FakeClientDirectory(Clock* clock, Random* random) : clock_(clock), random_(random) {}

  void AddTenant(directory::TenantInfo t) { tenants_[t.id] = std::move(t); }
  void AddClient(FakeClient c) { clients_.push_back(std::move(c)); }

  // What SigningKeys answers instead of the stored keys, when set.
  std::optional<Status> keys_failure;
  std::vector<proto::SigningKey> keys;

  Clock* clock() const override { return clock_; }
  Random* random() const override { return random_; }
  const std::string& cloud() const override { return cloud_; }
  Result<directory::TenantInfo> ResolveTenant(std::string_view id) const override {
    auto it = tenants_.find(std::string(id));
    if (it == tenants_.end()) return NotFound("Tenant '" + std::string(id) + "' not found.");
    return it->second;
  }
  Result<std::vector<proto::SigningKey>> SigningKeys() const override {
    if (keys_failure) return *keys_failure;
    return keys;
  }
  // Stores `key`, or with seals_stored puts its sealed key in place of the stored PEM. The
  // precondition (follows_kid) is the real directory's to check (signing_keys_test).
  Status AddSigningKey(const proto::SigningKey& key) override {
    if (!key.seals_stored()) {
      keys.push_back(key);
      return Status::Ok();
    }
    for (proto::SigningKey& k : keys) {
      if (k.kid() == key.kid()) {
        k.clear_private_pem();
        k.set_sealed_private_key(key.sealed_private_key());
        return Status::Ok();
      }
    }
    return NotFound("no signing key " + key.kid());
  }
  Result<directory::Client> AuthenticateClient(const directory::SecurityContext& ctx,
                                               std::string_view app_id,
                                               std::string_view secret) const override {
    for (const FakeClient& c : clients_) {
      if (c.tenant_id == ctx.tenant_id() && c.app_id == app_id && c.secret == secret) {
        return c.client;
      }
    }
    return Status(Code::kUnauthenticated, "Invalid client secret provided.", "invalid_client");
  }
  Result<directory::Client> FindClient(const directory::SecurityContext& ctx,
                                       std::string_view app_id) const override {
    for (const FakeClient& c : clients_) {
      if (c.tenant_id == ctx.tenant_id() && c.app_id == app_id) return c.client;
    }
    return Status(Code::kUnauthenticated, "No such application.", "unauthorized_client");
  }
  // The user-facing parts are the real directory's to test (auth tests of the grants use it).
  Result<directory::TokenUser> FindUser(const directory::SecurityContext&,
                                        std::string_view) const override {
    return NotFaked();
  }
  void SignInWithPassword(const directory::SecurityContext&, std::string_view, std::string_view,
                          std::function<void(Result<directory::PasswordSignIn>)> done) override {
    done(NotFaked());
  }
  void RegisterTotp(const directory::SecurityContext&, std::string_view, std::string,
                    std::vector<std::string>, directory::WriteDone done) override {
    done(NotFaked());
  }
  void UseTotpStep(const directory::SecurityContext&, std::string_view, int64_t,
                   directory::WriteDone done) override {
    done(NotFaked());
  }
  void UseRecoveryCode(const directory::SecurityContext&, std::string_view, std::string,
                       directory::WriteDone done) override {
    done(NotFaked());
  }
  void ChangePasswordAtSignIn(const directory::SecurityContext&, std::string_view, std::string,
                              std::string, std::function<void(Status)> done) override {
    done(NotFaked());
  }
  Result<std::set<std::string>> GrantedScopes(const directory::SecurityContext&, std::string_view,
                                              std::string_view, std::string_view) const override {
    return NotFaked();
  }
  void ConsentForUser(const directory::SecurityContext&, std::string_view, std::string_view,
                      std::string_view, const std::set<std::string>&,
                      directory::WriteDone done) override {
    done(NotFaked());
  }
  void RecordSignIn(const directory::SecurityContext&, boost::json::object,
                    directory::WriteDone done) override {
    done(NotFaked());
  }
  Result<std::optional<directory::Grant>> ReadGrant(const directory::SecurityContext&,
                                                    std::string_view,
                                                    std::string_view) const override {
    return NotFaked();
  }
  void UpdateGrant(const directory::SecurityContext&, std::string_view, std::string_view,
                   directory::GrantDecision, directory::GrantDone done) override {
    done(NotFaked());
  }

 private:
  static Status NotFaked() { return Status(Code::kUnsupported, "not faked"); }
  Clock* clock_;
  Random* random_;
  std::string cloud_ = "global";
  std::map<std::string, directory::TenantInfo> tenants_;
  std::vector<FakeClient> clients_;
};

}  // namespace meridian::testing
