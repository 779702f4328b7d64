#include "directory/state_machine.h"

#include <boost/json.hpp>
#include <set>

#include "common/clock.h"
#include "common/encoding.h"
#include "directory/grants.h"
#include "directory/objects.h"
#include "directory/records.h"
#include "directory/schema.h"
#include "directory/signing_keys.h"
#include "odata/plan.h"
#include "store/keys.h"

namespace meridian::directory {
namespace json = boost::json;
using store::TenantKeys;
using store::WriteContext;

bool IndexValue(const json::value& v, std::string* out) {
  // One folding for the index and the planner's bounds: odata's.
  if (v.is_string()) {
    *out = odata::FoldForIndex(odata::Value::String(std::string(v.get_string())));
    return true;
  }
  if (v.is_bool()) {
    *out = odata::FoldForIndex(odata::Value::Bool(v.get_bool()));
    return true;
  }
  return false;
}

std::string GlobalTenantKey(std::string_view tenant_id) {
  return "G/t/" + std::string(tenant_id);
}
std::string GlobalDomainKey(std::string_view domain) { return "G/d/" + std::string(domain); }
std::string GlobalSigningKeyPrefix() { return "G/k/"; }
std::string GlobalServiceSecretKey(std::string_view name) { return "G/s/" + std::string(name); }

namespace {

// Every folded index value of `prop` in `data` (several for a collection).
std::set<std::string> IndexValues(const Property& prop, const json::object& data) {
  std::set<std::string> out;
  auto it = data.find(prop.name);
  bool collection = prop.type == PropType::kStringCollection;
  if (it == data.end() || it->value().is_null()) {
    // A missing single value is indexed as null (one 0 byte), so that ordering by the property
    // lists every object and "eq null" is served by the index.
    if (!collection && !prop.unique()) out.insert(std::string(1, '\0'));
    return out;
  }
  std::string folded;
  if (it->value().is_array()) {
    for (const json::value& e : it->value().get_array()) {
      if (IndexValue(e, &folded)) out.insert(folded);
    }
  } else if (IndexValue(it->value(), &folded)) {
    out.insert(folded);
  }
  return out;
}

Result<std::optional<json::object>> ReadRecord(const WriteContext& ctx, const std::string& key) {
  MERIDIAN_ASSIGN_OR_RETURN(auto raw, ctx.Get(key));
  if (!raw) return std::optional<json::object>();
  boost::system::error_code ec;
  json::value v = json::parse(*raw, ec);
  if (ec || !v.is_object()) return Internal("corrupt record at " + key);
  return std::optional<json::object>(std::move(v.get_object()));
}

Status AddToCounter(WriteContext* ctx, const std::string& key, int64_t delta) {
  MERIDIAN_ASSIGN_OR_RETURN(auto raw, ctx->Get(key));
  int64_t n = raw && raw->size() == 8 ? static_cast<int64_t>(GetBigEndian64(*raw)) : 0;
  std::string out;
  PutBigEndian64(&out, static_cast<uint64_t>(std::max<int64_t>(0, n + delta)));
  ctx->Put(key, out);
  return Status::Ok();
}

const json::object& Data(const json::object& record) {
  static const json::object kEmpty;
  auto it = record.find("d");
  return it != record.end() && it->value().is_object() ? it->value().get_object() : kEmpty;
}

class Applier {
 public:
  Applier(const proto::Op& op, WriteContext* ctx) : op_(op), ctx_(ctx), keys_(op.tenant_id()) {}

  Status Run() {
    if (op_.tenant_id().empty()) return InvalidArgument("op without a tenant");
    switch (op_.kind_case()) {
      case proto::Op::kCreateTenant:
        return CreateTenant(op_.create_tenant());
      case proto::Op::kPutObject:
        return PutAudited(op_.put_object());
      case proto::Op::kPutObjects:
        for (const proto::PutObject& p : op_.put_objects().objects()) {
          MERIDIAN_RETURN_IF_ERROR(PutAudited(p));
        }
        return Status::Ok();
      case proto::Op::kDeleteObject: {
        const auto& d = op_.delete_object();
        return Delete(d.type(), d.id(), d.activity());
      }
      case proto::Op::kAddLink:
        MERIDIAN_RETURN_IF_ERROR(AddLink(op_.add_link()));
        return LinkAudit(op_.add_link(), "Assign");
      case proto::Op::kRemoveLink:
        MERIDIAN_RETURN_IF_ERROR(RemoveLink(op_.remove_link()));
        return LinkAudit(op_.remove_link(), "Unassign");
      case proto::Op::kRefusal: {
        const auto& r = op_.refusal();
        AuditRecord rec{r.activity(), r.target_type(), r.target_id(), "",
                        r.operation().empty() ? "Update" : r.operation().c_str()};
        rec.result = "failure";
        rec.reason = r.reason();
        return Audit(rec);
      }
      case proto::Op::kAbortTenant:
        return AbortTenant();
      case proto::Op::kGrantWrite:
        return WriteGrant(op_.grant_write());
      case proto::Op::kSignIn:
        return LogSignIn(op_.sign_in());
      default:
        return InvalidArgument("op kind not handled by a tenant partition");
    }
  }

 private:
  struct AuditRecord {
    std::string activity, type, id, name;
    const char* operation;
    const proto::Link* link = nullptr;
    json::array modified;  // modifiedProperties of the first target
    std::string result = "success";
    std::string reason;
  };

  Status CreateTenant(const proto::CreateTenant& ct) {
    MERIDIAN_ASSIGN_OR_RETURN(auto existing, ctx_->Get(keys_.Organization()));
    if (existing) return AlreadyExists("tenant " + op_.tenant_id() + " already exists");
    ctx_->Put(keys_.Organization(), ct.organization_json());
    for (const proto::PutObject& p : ct.objects()) {
      std::string name;
      json::array modified;
      MERIDIAN_RETURN_IF_ERROR(Put(p, &name, &modified));
    }
    for (const proto::Link& l : ct.links()) MERIDIAN_RETURN_IF_ERROR(AddLink(l));
    return Audit({"Create company", "organization", op_.tenant_id(), "", "Add"});
  }

  // A sign-in log record and its indexes; the log is its own audit.
  Status LogSignIn(const proto::SignIn& s) {
    for (std::string_view part :
         {std::string_view(s.id()), std::string_view(s.user_id()), std::string_view(s.app_id())}) {
      if (part.find('/') != std::string_view::npos) return InvalidArgument("a '/' in a sign-in");
    }
    if (s.id().empty()) return InvalidArgument("a sign-in without an id");
    std::string key = keys_.SignIn(op_.time_ms(), s.id());
    std::string suffix = key.substr(keys_.SignInPrefix().size());
    ctx_->Put(key, s.record_json());
    if (!s.user_id().empty()) ctx_->Put(keys_.SignInByUserPrefix(s.user_id()) + suffix, "");
    if (!s.app_id().empty()) ctx_->Put(keys_.SignInByAppPrefix(s.app_id()) + suffix, "");
    return Status::Ok();
  }

  // Sign-in state: not a directory change, so not audited (sign-ins have their own log).
  Status WriteGrant(const proto::GrantWrite& g) {
    MERIDIAN_RETURN_IF_ERROR(CheckGrantName(g.kind(), g.handle()));
    std::string key = keys_.Grant(g.kind(), g.handle());
    MERIDIAN_ASSIGN_OR_RETURN(auto stored, ctx_->Get(key));
    MERIDIAN_ASSIGN_OR_RETURN(auto current,
                              DecodeGrant(g.kind(), g.handle(), stored, op_.time_ms()));
    if ((current ? current->version : 0) != g.expect_version()) {
      return Status(Code::kFailedPrecondition, "the grant changed since the write was decided");
    }
    if (g.record_json().empty()) {
      ctx_->Delete(key);
      return Status::Ok();
    }
    boost::system::error_code ec;
    json::value data = json::parse(g.record_json(), ec);
    if (ec || !data.is_object()) return InvalidArgument("a grant record is a JSON object");
    ctx_->Put(key, EncodeGrant(data.get_object(), g.expires_ms(), op_.lsn()));
    return Status::Ok();
  }

  Status AbortTenant() {
    std::vector<std::string> all;
    MERIDIAN_RETURN_IF_ERROR(CollectSuffixes(keys_.prefix(), &all));
    for (const std::string& k : all) ctx_->Delete(keys_.prefix() + k);
    return Status::Ok();
  }

  Status PutAudited(const proto::PutObject& p) {
    AuditRecord rec{p.activity(), p.type(), p.id(), "", p.create() ? "Add" : "Update"};
    MERIDIAN_RETURN_IF_ERROR(Put(p, &rec.name, &rec.modified));
    return Audit(rec);
  }

  Status Put(const proto::PutObject& p, std::string* name, json::array* modified) {
    const TypeSchema* schema = FindType(p.type());
    if (!schema) return InvalidArgument("unknown object type " + p.type());
    std::string key = keys_.Object(p.type(), p.id());
    MERIDIAN_ASSIGN_OR_RETURN(auto old, ReadRecord(*ctx_, key));
    if (p.create() && old) return AlreadyExists("an object with id " + p.id() + " already exists");
    if (!p.create() && !old) return NotFound("object " + p.id() + " does not exist");
    boost::system::error_code ec;
    json::object record;
    if (!p.patch_json().empty()) {
      if (!old) return InvalidArgument("a patch needs an existing object");
      json::value patch = json::parse(p.patch_json(), ec);
      if (ec || !patch.is_object()) return InvalidArgument("patch is not a JSON object");
      record = *old;
      MERIDIAN_RETURN_IF_ERROR(ApplyPatch(patch.get_object(), &record));
    } else {
      json::value parsed = json::parse(p.record_json(), ec);
      if (ec || !parsed.is_object()) return InvalidArgument("record is not a JSON object");
      record = std::move(parsed.get_object());
    }
    record["v"] = op_.lsn();
    const json::object& data = Data(record);
    static const json::object kEmpty;
    const json::object& old_data = old ? Data(*old) : kEmpty;

    for (const Property& prop : schema->properties) {
      if (!prop.indexed()) continue;
      // A new object has no index entries yet, not even null ones.
      std::set<std::string> before = old ? IndexValues(prop, old_data) : std::set<std::string>();
      std::set<std::string> after = IndexValues(prop, data);
      for (const std::string& v : before) {
        if (after.count(v)) continue;
        ctx_->Delete(keys_.Index(p.type(), prop.name, v, p.id()));
        if (prop.unique()) ctx_->Delete(keys_.Unique(p.type(), prop.name, v));
      }
      for (const std::string& v : after) {
        if (before.count(v)) continue;
        if (prop.unique()) {
          std::string ukey = keys_.Unique(p.type(), prop.name, v);
          MERIDIAN_ASSIGN_OR_RETURN(auto owner, ctx_->Get(ukey));
          if (owner && *owner != p.id()) {
            return AlreadyExists("Another object with the same value for property " +
                                 std::string(prop.name) + " already exists.");
          }
          ctx_->Put(ukey, p.id());
        }
        ctx_->Put(keys_.Index(p.type(), prop.name, v, p.id()), "");
      }
    }
    // SMTP addresses (a user's UPN and mail, a group's mail, proxyAddresses) are unique across
    // the tenant, whatever the type that claims them.
    {
      std::set<std::string> before = old ? Addresses(p.type(), old_data) : std::set<std::string>();
      std::set<std::string> after = Addresses(p.type(), data);
      for (const std::string& a : before) {
        if (!after.count(a)) ctx_->Delete(keys_.Unique("*", "address", a));
      }
      for (const std::string& a : after) {
        if (before.count(a)) continue;
        std::string ukey = keys_.Unique("*", "address", a);
        MERIDIAN_ASSIGN_OR_RETURN(auto owner, ctx_->Get(ukey));
        if (owner && *owner != p.id()) {
          return AlreadyExists("Another object already uses the address " + a + ".");
        }
        ctx_->Put(ukey, p.id());
      }
    }
    // What changed, for the audit record: Graph properties only, so no secret is ever named.
    for (const auto& [k, v] : DiffMembers(old_data, data)) {
      auto* was = old_data.if_contains(k);
      modified->push_back({{"displayName", k},
                           {"oldValue", was ? json::serialize(*was) : "null"},
                           {"newValue", json::serialize(v)}});
    }
    ctx_->Put(key, json::serialize(record));
    if (!old) {
      ctx_->Put(keys_.Kind(p.id()), p.type());
      MERIDIAN_RETURN_IF_ERROR(AddToCounter(ctx_, keys_.Counter(p.type()), 1));
    }
    *name = Str(data, "displayName");
    return Status::Ok();
  }

  // Deletes an object with everything that hangs on it: its links both ways, role assignments to
  // it and, for an application, its service principal. Each cascaded delete is audited too.
  Status Delete(const std::string& type, const std::string& id, const std::string& activity) {
    const TypeSchema* schema = FindType(type);
    if (!schema) return InvalidArgument("unknown object type " + type);
    std::string key = keys_.Object(type, id);
    MERIDIAN_ASSIGN_OR_RETURN(auto old, ReadRecord(*ctx_, key));
    if (!old) return NotFound("object " + id + " does not exist");
    const json::object& data = Data(*old);
    for (const Property& prop : schema->properties) {
      if (!prop.indexed()) continue;
      for (const std::string& v : IndexValues(prop, data)) {
        ctx_->Delete(keys_.Index(type, prop.name, v, id));
        if (prop.unique()) ctx_->Delete(keys_.Unique(type, prop.name, v));
      }
    }
    for (const std::string& a : Addresses(type, data)) {
      ctx_->Delete(keys_.Unique("*", "address", a));
    }
    ctx_->Delete(key);
    ctx_->Delete(keys_.Kind(id));
    MERIDIAN_RETURN_IF_ERROR(AddToCounter(ctx_, keys_.Counter(type), -1));

    for (std::string_view rel : {"members", "owners"}) {
      std::vector<std::string> targets, sources;
      MERIDIAN_RETURN_IF_ERROR(CollectSuffixes(keys_.LinkPrefix(rel, id), &targets));
      MERIDIAN_RETURN_IF_ERROR(CollectSuffixes(keys_.ReverseLinkPrefix(rel, id), &sources));
      for (const auto& t : targets) {
        ctx_->Delete(keys_.Link(rel, id, t));
        ctx_->Delete(keys_.ReverseLink(rel, t, id));
        if (rel == "members") ctx_->Delete(keys_.RoleGroupMembership(t, id));
      }
      for (const auto& s : sources) {
        ctx_->Delete(keys_.Link(rel, s, id));
        ctx_->Delete(keys_.ReverseLink(rel, id, s));
        if (rel == "members") ctx_->Delete(keys_.RoleGroupMembership(id, s));
      }
    }
    MERIDIAN_RETURN_IF_ERROR(Audit({activity, type, id, Str(data, "displayName"), "Delete"}));

    std::vector<std::string> assignments;
    std::string ra_prefix =
        keys_.IndexPrefix("roleAssignment", "principalId") + store::EncodeIndexValue(id);
    MERIDIAN_RETURN_IF_ERROR(CollectSuffixes(ra_prefix, &assignments));
    for (const auto& a : assignments) {
      MERIDIAN_RETURN_IF_ERROR(Delete("roleAssignment", a, "Remove member from role"));
    }
    if (type == "application") {
      MERIDIAN_ASSIGN_OR_RETURN(auto sp,
                                IdByAppId(*ctx_, keys_, "servicePrincipal", Str(data, "appId")));
      if (sp) MERIDIAN_RETURN_IF_ERROR(Delete("servicePrincipal", *sp, "Remove service principal"));
    }
    return Status::Ok();
  }

  Status CollectSuffixes(const std::string& prefix, std::vector<std::string>* out) {
    return ctx_->Scan(prefix, store::PrefixEnd(prefix), false,
                      [&](std::string_view k, std::string_view) {
                        out->emplace_back(k.substr(prefix.size()));
                        return true;
                      });
  }

  Status CheckKind(const std::string& id, const std::string& type) {
    MERIDIAN_ASSIGN_OR_RETURN(auto kind, ctx_->Get(keys_.Kind(id)));
    if (!kind || *kind != type) {
      return NotFound("Resource '" + id + "' does not exist or one of its queried reference-property objects are not present.");
    }
    return Status::Ok();
  }

  // Whether group `id` was created role-assignable (an immutable property).
  Result<bool> RoleAssignable(const std::string& id) {
    MERIDIAN_ASSIGN_OR_RETURN(auto record, ReadRecord(*ctx_, keys_.Object("group", id)));
    if (!record) return false;
    auto* v = Data(*record).if_contains("isAssignableToRole");
    return v && v->is_bool() && v->get_bool();
  }

  Status AddLink(const proto::Link& l) {
    MERIDIAN_RETURN_IF_ERROR(CheckKind(l.source_id(), l.source_type()));
    MERIDIAN_RETURN_IF_ERROR(CheckKind(l.target_id(), l.target_type()));
    if (l.source_id() == l.target_id()) {
      return InvalidArgument("An object cannot be a member or owner of itself.");
    }
    std::string key = keys_.Link(l.relation(), l.source_id(), l.target_id());
    MERIDIAN_ASSIGN_OR_RETURN(auto existing, ctx_->Get(key));
    if (existing) {
      return AlreadyExists(
          "One or more added object references already exist for the following modified "
          "properties: '" + l.relation() + "'.");
    }
    if (l.relation() == "members" && l.source_type() == "group") {
      MERIDIAN_ASSIGN_OR_RETURN(bool assignable, RoleAssignable(l.source_id()));
      if (assignable) {
        // Roles flow to direct members only; as in Entra ID, such groups do not nest.
        if (l.target_type() == "group") {
          return InvalidArgument("A group cannot be a member of a role-assignable group.");
        }
        ctx_->Put(keys_.RoleGroupMembership(l.target_id(), l.source_id()), "");
      }
    }
    ctx_->Put(key, l.target_type());
    ctx_->Put(keys_.ReverseLink(l.relation(), l.target_id(), l.source_id()), l.source_type());
    return Status::Ok();
  }

  Status RemoveLink(const proto::Link& l) {
    std::string key = keys_.Link(l.relation(), l.source_id(), l.target_id());
    MERIDIAN_ASSIGN_OR_RETURN(auto existing, ctx_->Get(key));
    if (!existing) {
      return NotFound("Resource '" + l.target_id() + "' is not a " + l.relation() +
                      " of object '" + l.source_id() + "'.");
    }
    ctx_->Delete(key);
    ctx_->Delete(keys_.ReverseLink(l.relation(), l.target_id(), l.source_id()));
    if (l.relation() == "members") {
      ctx_->Delete(keys_.RoleGroupMembership(l.target_id(), l.source_id()));
    }
    return Status::Ok();
  }

  Status LinkAudit(const proto::Link& l, const char* operation) {
    MERIDIAN_ASSIGN_OR_RETURN(auto record,
                              ReadRecord(*ctx_, keys_.Object(l.source_type(), l.source_id())));
    AuditRecord rec{l.activity(), l.source_type(), l.source_id(),
                    record ? Str(Data(*record), "displayName") : "", operation};
    rec.link = &l;
    return Audit(rec);
  }

  // A directoryAudit record of this op, written in the same batch as its effects. The first
  // record of an op has the op's LSN as its key; a cascade's further records follow it.
  Status Audit(const AuditRecord& r) {
    const TypeSchema* schema = FindType(r.type);
    json::object initiated;
    const proto::Actor& a = op_.actor();
    if (a.kind() == "user") {
      initiated["user"] = {{"id", a.id()}, {"displayName", a.display_name()}};
    } else if (a.kind() == "servicePrincipal") {
      initiated["app"] = {
          {"appId", a.app_id()}, {"servicePrincipalId", a.id()}, {"displayName", a.display_name()}};
    } else {
      initiated["app"] = {{"displayName", a.display_name().empty() ? "Meridian operator"
                                                                   : a.display_name()}};
    }
    json::array targets;
    json::object first{{"id", r.id}, {"type", r.type}, {"displayName", r.name}};
    if (!r.modified.empty()) first["modifiedProperties"] = r.modified;
    targets.push_back(std::move(first));
    if (r.link) {
      targets.push_back({{"id", r.link->target_id()}, {"type", r.link->target_type()}});
    }
    std::string id = op_.tenant_id().substr(0, 8) + "_" + std::to_string(op_.lsn());
    if (audit_seq_ > 0) id += "_" + std::to_string(audit_seq_);
    json::object audit{
        {"id", id},
        {"category", schema ? std::string(schema->audit_category) : "DirectoryManagement"},
        {"correlationId", op_.request_id()},
        {"result", r.result},
        {"resultReason", r.reason},
        {"activityDisplayName", r.activity},
        {"activityDateTime", FormatIso8601(op_.time_ms())},
        {"loggedByService", "Core Directory"},
        {"operationType", r.operation},
        {"initiatedBy", std::move(initiated)},
        {"targetResources", std::move(targets)},
    };
    if (audit_seq_ == UINT16_MAX) return InvalidArgument("too many audit records for one op");
    ctx_->Put(keys_.Audit(op_.lsn(), audit_seq_++), json::serialize(audit));
    return Status::Ok();
  }

  const proto::Op& op_;
  WriteContext* ctx_;
  TenantKeys keys_;
  uint16_t audit_seq_ = 0;
};

}  // namespace

Status TenantMachine::Apply(const proto::Op& op, WriteContext* ctx) {
  return Applier(op, ctx).Run();
}

Status GlobalMachine::Apply(const proto::Op& op, WriteContext* ctx) {
  switch (op.kind_case()) {
    case proto::Op::kRegisterTenant: {
      const auto& r = op.register_tenant();
      MERIDIAN_ASSIGN_OR_RETURN(auto existing, ctx->Get(GlobalTenantKey(r.tenant_id())));
      if (existing) return AlreadyExists("tenant " + r.tenant_id() + " is already registered");
      json::array domains;
      for (const std::string& d : r.domains()) {
        std::string key = GlobalDomainKey(AsciiLower(d));
        MERIDIAN_ASSIGN_OR_RETURN(auto owner, ctx->Get(key));
        if (owner) return AlreadyExists("domain " + d + " belongs to another tenant");
        ctx->Put(key, r.tenant_id());
        domains.push_back(json::string(d));
      }
      json::object record{{"id", r.tenant_id()},
                          {"region", r.region()},
                          {"partition", r.partition()},
                          {"domains", std::move(domains)}};
      if (r.pending()) record["pending"] = true;
      ctx->Put(GlobalTenantKey(r.tenant_id()), json::serialize(record));
      return Status::Ok();
    }
    case proto::Op::kActivateTenant:
    case proto::Op::kAbandonTenant: {
      const std::string& id = op.has_activate_tenant() ? op.activate_tenant().tenant_id()
                                                       : op.abandon_tenant().tenant_id();
      MERIDIAN_ASSIGN_OR_RETURN(auto raw, ctx->Get(GlobalTenantKey(id)));
      if (!raw) return NotFound("tenant " + id + " is not registered");
      boost::system::error_code ec;
      json::value v = json::parse(*raw, ec);
      if (ec || !v.is_object()) return Internal("corrupt tenant record " + id);
      json::object& record = v.get_object();
      if (!record.contains("pending")) {
        return InvalidArgument("tenant " + id + " is not pending");
      }
      if (op.has_activate_tenant()) {
        record.erase("pending");
        ctx->Put(GlobalTenantKey(id), json::serialize(record));
        return Status::Ok();
      }
      if (auto* d = record.if_contains("domains"); d && d->is_array()) {
        for (const auto& x : d->get_array()) {
          if (x.is_string()) ctx->Delete(GlobalDomainKey(AsciiLower(x.get_string())));
        }
      }
      ctx->Delete(GlobalTenantKey(id));
      return Status::Ok();
    }
    case proto::Op::kSigningKey:
      return ApplySigningKey(op.signing_key(), ctx);
    case proto::Op::kServiceSecret: {
      std::string key = GlobalServiceSecretKey(op.service_secret().name());
      MERIDIAN_ASSIGN_OR_RETURN(auto existing, ctx->Get(key));
      if (existing) return AlreadyExists("service secret " + op.service_secret().name() + " exists");
      ctx->Put(key, op.service_secret().value());
      return Status::Ok();
    }
    default:
      return InvalidArgument("op kind not handled by the global directory");
  }
}

}  // namespace meridian::directory
