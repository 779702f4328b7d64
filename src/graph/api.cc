#include "graph/api.h"

#include <boost/json.hpp>
#include <boost/url.hpp>

#include "common/encoding.h"
#include "crypto/sha.h"
#include "graph/delegated.h"
#include "graph/errors.h"
#include "graph/query.h"
#include "odata/query.h"

namespace meridian::graph {
namespace json = boost::json;
using directory::Object;
using directory::SecurityContext;
using directory::TypeSchema;

namespace {

// Where a user's Temporary Access Passes are, for @odata.context.
std::string TapPath(std::string_view user_id) {
  return "users('" + std::string(user_id) + "')/authentication/temporaryAccessPassMethods";
}

constexpr std::string_view kJsonType =
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;"
    "charset=utf-8";

// Graph's default property set for users when no $select is given.
const std::vector<std::string_view> kDefaultUserSelect = {
    "businessPhones", "displayName", "givenName",         "jobTitle", "mail",
    "mobilePhone",    "officeLocation", "preferredLanguage", "surname", "userPrincipalName",
    "id"};

// One request. A write's handler lives until the write's outcome has shaped the response: the
// outcome's callback holds it.
class Handler {
 public:
  // Finishes a write's request: with an error response unless `status` is ok.
  using Finish = std::function<void(Status status)>;

  Handler(directory::TenantDirectory* d, const auth::TokenService* t,
          const GraphApi::WriteObserver* observer, const http::Request& req, http::Response& res)
      : d_(d), tokens_(t), observer_(observer), req_(req), res_(res) {}

  // The gate: a valid token whose tenant and principal exist. Fills ctx_.
  Status Authenticate() {
    auto header = req_.Header("authorization");
    if (!header) {
      return Status(Code::kUnauthenticated, "Access token is empty.", "InvalidAuthenticationToken");
    }
    MERIDIAN_ASSIGN_OR_RETURN(SecurityContext verified, tokens_->Authenticate(*header));
    SecurityContext ctx = verified.WithCorrelationId(res_.request_id);
    const TypeSchema* principal_type = directory::FindType(
        ctx.kind() == SecurityContext::Kind::kServicePrincipal ? "servicePrincipal" : "user");
    auto principal = d_->Get(ctx, *principal_type, ctx.principal_id());
    if (!principal.ok()) {
      if (principal.status().code() == Code::kNotFound) {
        return Status(Code::kUnauthenticated,
                      "The tenant or principal of the access token no longer exists.",
                      "InvalidAuthenticationToken");
      }
      return principal.status();
    }
    auto* enabled = principal->data.if_contains("accountEnabled");
    if (enabled && enabled->is_bool() && !enabled->get_bool()) {
      return Status(Code::kUnauthenticated, "The principal of the access token is disabled.",
                    "InvalidAuthenticationToken");
    }
    if (ctx.kind() == SecurityContext::Kind::kUser) {
      MERIDIAN_ASSIGN_OR_RETURN(scopes_, tokens_->DelegatedScopes(*header));
      own_upn_ = directory::Str(principal->data, "userPrincipalName");
    }
    ctx_.emplace(std::move(ctx));
    return Status::Ok();
  }

  // For a user's token, whether its delegated permissions allow a route of `area` (a write or
  // not) with `params` (directory/delegated.h); always Ok for an application's token.
  Status MayUseDelegated(const Result<Area>& area, bool write, const http::RouteParams& params) {
    if (ctx_->kind() != SecurityContext::Kind::kUser) return Status::Ok();
    MERIDIAN_RETURN_IF_ERROR(area.status());
    std::string_view id = params.Get("id");
    bool own = *area == Area::kUsers && !id.empty() &&
               (EqualsIgnoreCase(id, ctx_->principal_id()) || EqualsIgnoreCase(id, own_upn_));
    // One's own user, for a write: an update of profile properties only (User.ReadWrite does
    // not delete the account, or change its sign-in or its password).
    if (own && write) {
      // PATCH /v1.0/users/{id} itself, not a path below it.
      bool profile = req_.method == "PATCH" &&
                     req_.path.find('/', std::string_view("/v1.0/users/").size()) ==
                         std::string::npos;
      if (profile) {
        boost::system::error_code ec;
        json::value body = json::parse(req_.body, ec);
        profile = !ec && body.is_object();
        for (std::string_view k : {"accountEnabled", "passwordProfile", "userPrincipalName"}) {
          profile = profile && !body.get_object().contains(k);
        }
      }
      own = profile;
    }
    return AllowDelegated(*area, write, own, scopes_);
  }

  // Reads are authorized here; writes by the directory, under the partition's write lock.
  Status MayRead(std::string_view type) {
    return d_->AuthorizeRead(*ctx_, authz::Action::kRead, type);
  }

  std::string Base() const { return tokens_->options().public_url; }
  std::string Context(std::string_view what) const {
    return Base() + "/v1.0/$metadata#" + std::string(what);
  }

  Result<json::object> Body() {
    if (req_.body.empty()) {
      return InvalidArgument("The request body is empty; a JSON object is required.");
    }
    auto ct = req_.Header("content-type");
    if (!ct || AsciiLower(*ct).find("application/json") == std::string::npos) {
      return InvalidArgument("Unable to read JSON request payload. Set Content-Type to "
                             "application/json.");
    }
    boost::json::parse_options opts;
    opts.max_depth = 32;
    boost::system::error_code ec;
    json::value v = json::parse(req_.body, ec, {}, opts);
    if (ec) {
      return InvalidArgument("Unable to read JSON request payload: " + ec.message() + ".");
    }
    if (!v.is_object()) return InvalidArgument("The request body must be a JSON object.");
    return std::move(v.get_object());
  }

  void Json(int status, const json::object& body) {
    res_.SetJson(status, json::serialize(body));
    res_.SetHeader("Content-Type", std::string(kJsonType));
  }
  void Fail(const Status& s) { SetError(s, req_, &res_); }

  // The Graph representation of an object, limited to `select` (all readable properties, or
  // Graph's default set for users, when empty).
  static json::object Shape(const Object& o, const TypeSchema& type,
                            const std::vector<std::string>& select, bool with_type) {
    json::object out;
    if (with_type) out["@odata.type"] = type.odata_type;
    auto put = [&](std::string_view name) {
      auto* v = o.data.if_contains(name);
      out[name] = v ? *v : json::value(nullptr);
    };
    if (!select.empty()) {
      for (const auto& s : select) put(s);
      if (!out.contains("id")) put("id");
    } else if (type.type == "user") {
      for (auto s : kDefaultUserSelect) put(s);
    } else {
      for (const auto& p : type.properties) {
        if (!(p.flags & directory::kWriteOnly)) put(p.name);
      }
    }
    return out;
  }

  // ---- collection and entity handlers ----

  Status List(const TypeSchema& type) {
    MERIDIAN_RETURN_IF_ERROR(MayRead(type.type));
    MERIDIAN_ASSIGN_OR_RETURN(ListRequest lr, BuildListRequest(req_, type));
    if (lr.query.count && !Eventual()) {
      return InvalidArgument("$count requires the header 'ConsistencyLevel: eventual'.");
    }
    MERIDIAN_ASSIGN_OR_RETURN(directory::Page page, d_->List(*ctx_, type, lr.query));
    json::array value;
    for (const auto& o : page.items) value.push_back(Shape(o, type, lr.select, false));
    std::string ctx_name(type.collection);
    if (!lr.select.empty()) ctx_name += "(" + Join(lr.select) + ")";
    json::object body{{"@odata.context", Context(ctx_name)}};
    if (page.count) body["@odata.count"] = *page.count;
    if (!page.next_skiptoken.empty()) body["@odata.nextLink"] = NextLink(page.next_skiptoken);
    body["value"] = std::move(value);
    Json(200, body);
    return Status::Ok();
  }

  Status Count(const TypeSchema& type) {
    MERIDIAN_RETURN_IF_ERROR(MayRead(type.type));
    if (!Eventual()) {
      return InvalidArgument("$count requires the header 'ConsistencyLevel: eventual'.");
    }
    MERIDIAN_ASSIGN_OR_RETURN(ListRequest lr, BuildListRequest(req_, type));
    int64_t n;
    if (!lr.query.has_filter) {
      MERIDIAN_ASSIGN_OR_RETURN(n, d_->Count(*ctx_, type));
    } else {
      lr.query.count = true;
      lr.query.top = 1;
      MERIDIAN_ASSIGN_OR_RETURN(directory::Page page, d_->List(*ctx_, type, lr.query));
      n = *page.count;
    }
    res_.status = 200;
    res_.body = std::to_string(n);
    res_.SetHeader("Content-Type", "text/plain");
    return Status::Ok();
  }

  // The signed-in user (a delegated token's), as GET /users/{id} shows them.
  Status Me(const TypeSchema& users) {
    if (ctx_->kind() != directory::SecurityContext::Kind::kUser) {
      return InvalidArgument("/me request is only valid with delegated authentication flow.",
                             "BadRequest");
    }
    return Get(users, ctx_->principal_id());
  }

  Status Get(const TypeSchema& type, std::string_view id) {
    MERIDIAN_RETURN_IF_ERROR(MayRead(type.type));
    MERIDIAN_ASSIGN_OR_RETURN(ListRequest lr, BuildListRequest(req_, type));
    const std::vector<std::string>& select = lr.select;
    MERIDIAN_ASSIGN_OR_RETURN(Object o, d_->Lookup(*ctx_, type, id));
    std::string ctx_name(type.collection);
    if (!select.empty()) ctx_name += "(" + Join(select) + ")";
    json::object body{{"@odata.context", Context(ctx_name + "/$entity")}};
    body["@odata.etag"] = o.ETag();
    for (auto& [k, v] : Shape(o, type, select, false)) body[k] = v;
    Json(200, body);
    res_.headers.emplace_back("ETag", o.ETag());
    return Status::Ok();
  }

  // ---- writes: each ends in `finish`, now or once the directory's write has its outcome ----

  void Create(const TypeSchema& type, Finish finish) {
    auto body = Body();
    if (!body.ok()) return finish(body.status());
    d_->Create(*ctx_, type, *body, Then(finish, [this, &type](directory::WriteResult& w) {
      json::object out{{"@odata.context", Context(std::string(type.collection) + "/$entity")}};
      out["@odata.etag"] = w.object.ETag();
      for (auto& [k, v] : Shape(w.object, type, {}, false)) out[k] = v;
      Json(201, out);
      res_.headers.emplace_back(
          "Location", Base() + "/v1.0/" + std::string(type.collection) + "/" + w.object.id);
      res_.headers.emplace_back("ETag", w.object.ETag());
    }));
  }

  void Update(const TypeSchema& type, std::string_view id, Finish finish) {
    auto body = Body();
    if (!body.ok()) return finish(body.status());
    d_->Update(*ctx_, type, id, *body, IfMatch(), Then(finish, [this](directory::WriteResult& w) {
      res_.status = 204;
      res_.headers.emplace_back("ETag", w.object.ETag());
    }));
  }

  void Delete(const TypeSchema& type, std::string_view id, Finish finish) {
    d_->Delete(*ctx_, type, id, IfMatch(),
               Then(finish, [this](directory::WriteResult&) { res_.status = 204; }));
  }

  // ---- relationships ----

  Status ListLinks(std::string_view relation, directory::LinkDirection dir, std::string_view id,
                   bool transitive, const TypeSchema& source) {
    MERIDIAN_RETURN_IF_ERROR(MayRead(source.type));
    MERIDIAN_ASSIGN_OR_RETURN(ListRequest lr, BuildListRequest(req_, source));
    if (lr.query.has_filter || !lr.query.orderby.empty() || lr.query.count) {
      return Status(Code::kUnsupported,
                    "$filter, $orderby and $count are not supported on relationships yet.",
                    "Request_UnsupportedQuery");
    }
    int top = lr.query.top;
    const std::string& skip = lr.query.skiptoken;
    // A user may be addressed by userPrincipalName.
    MERIDIAN_ASSIGN_OR_RETURN(Object src, d_->Lookup(*ctx_, source, id));
    MERIDIAN_ASSIGN_OR_RETURN(directory::Page page,
                              d_->ListLinks(*ctx_, relation, dir, src.id, transitive, top, skip));
    json::array value;
    for (const auto& o : page.items) {
      value.push_back(Shape(o, *directory::FindType(o.type), {}, true));
    }
    json::object body{{"@odata.context", Context("directoryObjects")}};
    if (!page.next_skiptoken.empty()) body["@odata.nextLink"] = NextLink(page.next_skiptoken);
    body["value"] = std::move(value);
    Json(200, body);
    return Status::Ok();
  }

  void AddRef(std::string_view relation, const TypeSchema& source, std::string_view id,
              Finish finish) {
    auto body = Body();
    if (!body.ok()) return finish(body.status());
    auto* ref = body->if_contains("@odata.id");
    if (!ref || !ref->is_string() || body->size() != 1) {
      return finish(
          InvalidArgument("The body must be {\"@odata.id\": \"<url of a directory object>\"}."));
    }
    std::string_view url = ref->get_string();
    std::string_view target = url.substr(url.find_last_of('/') + 1);
    if (!IsUuid(target)) {
      return finish(InvalidArgument("'@odata.id' must end with the id of a directory object."));
    }
    d_->AddLink(*ctx_, relation, source, id, target,
                Then(finish, [this](directory::WriteResult&) { res_.status = 204; }));
  }

  void RemoveRef(std::string_view relation, const TypeSchema& source, std::string_view id,
                 std::string_view target, Finish finish) {
    d_->RemoveLink(*ctx_, relation, source, id, target,
                   Then(finish, [this](directory::WriteResult&) { res_.status = 204; }));
  }

  // ---- singletons and actions ----

  Status Organization(std::optional<std::string_view> id) {
    MERIDIAN_RETURN_IF_ERROR(MayRead("organization"));
    MERIDIAN_ASSIGN_OR_RETURN(json::object org, d_->Organization(*ctx_));
    if (id) {
      if (AsciiLower(*id) != ctx_->tenant_id()) {
        return NotFound("Resource '" + std::string(*id) + "' does not exist.");
      }
      json::object body{{"@odata.context", Context("organization/$entity")}};
      for (auto& [k, v] : org) body[k] = v;
      Json(200, body);
      return Status::Ok();
    }
    Json(200, {{"@odata.context", Context("organization")}, {"value", json::array{org}}});
    return Status::Ok();
  }

  void AddPassword(std::string_view id, Finish finish) {
    json::object body;
    if (!req_.body.empty()) {
      auto parsed = Body();
      if (!parsed.ok()) return finish(parsed.status());
      body = std::move(*parsed);
    }
    d_->AddPassword(*ctx_, id, body, Then(finish, [this](directory::WriteResult& w) {
      json::object out{{"@odata.context", Context("microsoft.graph.passwordCredential")}};
      for (auto& [k, v] : w.object.data) out[k] = v;
      Json(200, out);
      res_.headers.emplace_back("Cache-Control", "no-store");
    }));
  }

  // ---- a user's per-user MFA state (Graph beta's strongAuthenticationRequirements shape) ----

  Status MfaRequirement(std::string_view user) {
    MERIDIAN_ASSIGN_OR_RETURN(Object found, d_->Lookup(*ctx_, *directory::FindType("user"), user));
    MERIDIAN_ASSIGN_OR_RETURN(std::string state, d_->MfaRequirement(*ctx_, found.id));
    Json(200, {{"@odata.context",
                Context("users('" + found.id + "')/authentication/requirements/$entity")},
               {"perUserMfaState", state}});
    return Status::Ok();
  }

  void SetMfaRequirement(std::string_view user, Finish finish) {
    auto body = Body();
    if (!body.ok()) return finish(body.status());
    for (const auto& [k, v] : *body) {
      if (k != "perUserMfaState" || !v.is_string()) {
        return finish(InvalidArgument("The body may hold perUserMfaState (a string) only.",
                                      "Request_BadRequest"));
      }
    }
    auto* state = body->if_contains("perUserMfaState");
    if (!state) {
      return finish(InvalidArgument("perUserMfaState is required.", "Request_BadRequest"));
    }
    auto found = d_->Lookup(*ctx_, *directory::FindType("user"), user);
    if (!found.ok()) return finish(found.status());
    d_->SetMfaRequirement(*ctx_, found->id, std::string(state->get_string()),
                          Then(finish, [this](directory::WriteResult&) { res_.status = 204; }));
  }

  // ---- authentication methods: a user's Temporary Access Pass ----

  void IssueTap(std::string_view user, Finish finish) {
    json::object body;
    if (!req_.body.empty()) {
      auto parsed = Body();
      if (!parsed.ok()) return finish(parsed.status());
      body = std::move(*parsed);
    }
    auto found = d_->Lookup(*ctx_, *directory::FindType("user"), user);
    if (!found.ok()) return finish(found.status());
    std::string id = found->id;
    d_->IssueTemporaryAccessPass(
        *ctx_, id, body, Then(finish, [this, id](directory::WriteResult& w) {
          json::object out{{"@odata.context", Context(TapPath(id) + "/$entity")}};
          for (auto& [k, v] : w.object.data) out[k] = v;
          Json(201, out);
          res_.headers.emplace_back("Cache-Control", "no-store");
        }));
  }

  Status Taps(std::string_view user, std::optional<std::string_view> method) {
    MERIDIAN_ASSIGN_OR_RETURN(Object found, d_->Lookup(*ctx_, *directory::FindType("user"), user));
    MERIDIAN_ASSIGN_OR_RETURN(auto methods, d_->TemporaryAccessPasses(*ctx_, found.id));
    if (!method) {
      json::array value(methods.begin(), methods.end());
      Json(200, {{"@odata.context", Context(TapPath(found.id))}, {"value", std::move(value)}});
      return Status::Ok();
    }
    for (auto& m : methods) {
      if (AsciiLower(m.at("id").as_string()) == AsciiLower(*method)) {
        json::object out{{"@odata.context", Context(TapPath(found.id) + "/$entity")}};
        for (auto& [k, v] : m) out[k] = v;
        Json(200, out);
        return Status::Ok();
      }
    }
    return NotFound("No temporary access pass '" + std::string(*method) + "'.");
  }

  void DeleteTap(std::string_view user, std::string_view method, Finish finish) {
    auto found = d_->Lookup(*ctx_, *directory::FindType("user"), user);
    if (!found.ok()) return finish(found.status());
    d_->DeleteTemporaryAccessPass(
        *ctx_, found->id, method,
        Then(finish, [this](directory::WriteResult&) { res_.status = 204; }));
  }

  void RemovePassword(std::string_view id, Finish finish) {
    auto body = Body();
    if (!body.ok()) return finish(body.status());
    auto* key = body->if_contains("keyId");
    if (!key || !key->is_string() || !IsUuid(key->get_string())) {
      return finish(InvalidArgument("keyId (a GUID) is required."));
    }
    d_->RemovePassword(*ctx_, id, key->get_string(),
                       Then(finish, [this](directory::WriteResult&) { res_.status = 204; }));
  }

  Status DirectoryObject(std::string_view id) {
    MERIDIAN_RETURN_IF_ERROR(MayRead("directoryObject"));
    MERIDIAN_ASSIGN_OR_RETURN(Object o, d_->GetDirectoryObject(*ctx_, id));
    json::object body{{"@odata.context", Context("directoryObjects/$entity")}};
    for (auto& [k, v] : Shape(o, *directory::FindType(o.type), {}, true)) body[k] = v;
    Json(200, body);
    return Status::Ok();
  }

  Status Audits() {
    MERIDIAN_RETURN_IF_ERROR(d_->AuthorizeRead(*ctx_, authz::Action::kReadAudit, "directoryAudit"));
    // Only $top and $skiptoken apply: the schema knows no property, so anything else is refused.
    MERIDIAN_ASSIGN_OR_RETURN(
        odata::QueryOptions options,
        odata::ParseQueryOptions(req_.query, [](std::string_view) { return std::nullopt; }));
    int top = options.top.value_or(100);
    const std::string& skip = options.skiptoken;
    MERIDIAN_ASSIGN_OR_RETURN(directory::Page page, d_->ListAudit(*ctx_, top, skip));
    json::array value;
    for (auto& o : page.items) value.push_back(std::move(o.data));
    json::object body{{"@odata.context", Context("auditLogs/directoryAudits")}};
    if (!page.next_skiptoken.empty()) body["@odata.nextLink"] = NextLink(page.next_skiptoken);
    body["value"] = std::move(value);
    Json(200, body);
    return Status::Ok();
  }

  Status SignIns() {
    MERIDIAN_RETURN_IF_ERROR(d_->AuthorizeRead(*ctx_, authz::Action::kReadAudit, "signIn"));
    MERIDIAN_ASSIGN_OR_RETURN(odata::QueryOptions options,
                              odata::ParseQueryOptions(req_.query, directory::SignInProperty));
    if (!options.orderby.empty() &&
        !(options.orderby.size() == 1 && options.orderby[0].prop == "createdDateTime" &&
          options.orderby[0].descending)) {
      return Status(Code::kUnsupported, "Sign-ins are listed newest first only.",
                    "Request_UnsupportedQuery");
    }
    if (options.count || options.search || !options.select.empty()) {
      return Status(Code::kUnsupported, "$count, $search and $select are not supported here.",
                    "Request_UnsupportedQuery");
    }
    directory::SignInQuery q = directory::PlanSignIns(options.filter.get());
    q.top = options.top.value_or(50);
    q.skiptoken = options.skiptoken;
    q.fingerprint = options.filter_text;
    MERIDIAN_ASSIGN_OR_RETURN(directory::Page page, d_->ListSignIns(*ctx_, q));
    json::array value;
    for (auto& o : page.items) value.push_back(std::move(o.data));
    json::object body{{"@odata.context", Context("auditLogs/signIns")}};
    if (!page.next_skiptoken.empty()) body["@odata.nextLink"] = NextLink(page.next_skiptoken);
    body["value"] = std::move(value);
    Json(200, body);
    return Status::Ok();
  }

  const SecurityContext& ctx() const { return *ctx_; }

 private:
  // The WriteDone of a write: tells the observer, shapes the response with `respond` when the
  // write succeeded, and finishes.
  directory::WriteDone Then(Finish finish, std::function<void(directory::WriteResult&)> respond) {
    return [this, finish = std::move(finish),
            respond = std::move(respond)](Result<directory::WriteResult> r) {
      if (*observer_) (*observer_)(r, res_);
      if (r.ok()) respond(*r);
      finish(r.status());
    };
  }

  bool Eventual() const {
    auto h = req_.Header("consistencylevel");
    return h && EqualsIgnoreCase(*h, "eventual");
  }
  std::optional<std::string_view> IfMatch() const { return req_.Header("if-match"); }
  static std::string Join(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
    return out;
  }
  std::string NextLink(const std::string& token) const {
    boost::urls::url u(Base());
    u.set_path(req_.path);
    for (const auto& [k, v] : req_.query) {
      if (k != "$skiptoken") u.params().append({k, v});
    }
    u.params().append({"$skiptoken", token});
    return std::string(u.buffer());
  }

  directory::TenantDirectory* d_;
  const auth::TokenService* tokens_;
  const GraphApi::WriteObserver* observer_;
  const http::Request& req_;
  http::Response& res_;
  std::optional<SecurityContext> ctx_;
  std::set<std::string> scopes_;  // a user's token's scp
  std::string own_upn_;           // a user's token's user
};

}  // namespace

GraphApi::GraphApi(directory::TenantDirectory* directory, const auth::TokenService* tokens,
                   WriteObserver observer)
    : directory_(directory), tokens_(tokens), observer_(std::move(observer)) {}

void GraphApi::Register(http::Router* router) {
  auto add = [&](std::string method, std::string pattern,
                 std::function<Status(Handler&, const http::RouteParams&)> fn) {
    router->Add(
        method, pattern,
        [this, fn, area = AreaOf(pattern)](const http::Request& req,
                                           const http::RouteParams& params, http::Response& res) {
          Handler h(directory_, tokens_, &observer_, req, res);
          Status s = h.Authenticate();
          if (s.ok()) s = h.MayUseDelegated(area, false, params);
          if (s.ok()) s = fn(h, params);
          if (!s.ok()) h.Fail(s);
        });
  };
  // A write: `fn` ends in the Finish it is given, now or later on another thread.
  auto add_write =
      [&](std::string method, std::string pattern,
          std::function<void(Handler&, const http::RouteParams&, Handler::Finish)> fn) {
        router->AddAsync(method, pattern,
                         [this, fn, area = AreaOf(pattern)](
                             const http::Request& req, const http::RouteParams& params,
                             http::Response& res, std::function<void()> done) {
                           auto h =
                               std::make_shared<Handler>(directory_, tokens_, &observer_, req, res);
                           Status s = h->Authenticate();
                           if (s.ok()) s = h->MayUseDelegated(area, true, params);
                           if (!s.ok()) {
                             h->Fail(s);
                             return done();
                           }
                           fn(*h, params, [h, done = std::move(done)](Status s) {
                             if (!s.ok()) h->Fail(s);
                             done();
                           });
                         });
      };
  for (const TypeSchema* type : directory::AllTypes()) {
    std::string base = "/v1.0/" + std::string(type->collection);
    add("GET", base, [type](Handler& h, const http::RouteParams&) { return h.List(*type); });
    add("GET", base + "/$count",
        [type](Handler& h, const http::RouteParams&) { return h.Count(*type); });
    add("GET", base + "/{id}",
        [type](Handler& h, const http::RouteParams& p) { return h.Get(*type, p.Get("id")); });
    if (type->type == "domain") continue;  // domains are read-only through the API for now
    add_write("POST", base, [type](Handler& h, const http::RouteParams&, Handler::Finish f) {
      h.Create(*type, std::move(f));
    });
    add_write("PATCH", base + "/{id}",
              [type](Handler& h, const http::RouteParams& p, Handler::Finish f) {
                h.Update(*type, p.Get("id"), std::move(f));
              });
    add_write("DELETE", base + "/{id}",
              [type](Handler& h, const http::RouteParams& p, Handler::Finish f) {
                h.Delete(*type, p.Get("id"), std::move(f));
              });
  }
  using directory::LinkDirection;
  const TypeSchema* users = directory::FindType("user");
  const TypeSchema* groups = directory::FindType("group");
  const TypeSchema* sps = directory::FindType("servicePrincipal");
  const TypeSchema* apps = directory::FindType("application");
  for (const TypeSchema* t : {users, groups, sps}) {
    std::string base = "/v1.0/" + std::string(t->collection) + "/{id}";
    add("GET", base + "/memberOf", [t](Handler& h, const http::RouteParams& p) {
      return h.ListLinks("members", LinkDirection::kIncoming, p.Get("id"), false, *t);
    });
    add("GET", base + "/transitiveMemberOf", [t](Handler& h, const http::RouteParams& p) {
      return h.ListLinks("members", LinkDirection::kIncoming, p.Get("id"), true, *t);
    });
  }
  add("GET", "/v1.0/groups/{id}/members", [groups](Handler& h, const http::RouteParams& p) {
    return h.ListLinks("members", LinkDirection::kOutgoing, p.Get("id"), false, *groups);
  });
  add("GET", "/v1.0/groups/{id}/transitiveMembers",
      [groups](Handler& h, const http::RouteParams& p) {
        return h.ListLinks("members", LinkDirection::kOutgoing, p.Get("id"), true, *groups);
      });
  add_write("POST", "/v1.0/groups/{id}/members/$ref",
            [groups](Handler& h, const http::RouteParams& p, Handler::Finish f) {
              h.AddRef("members", *groups, p.Get("id"), std::move(f));
            });
  add_write("DELETE", "/v1.0/groups/{id}/members/{member}/$ref",
            [groups](Handler& h, const http::RouteParams& p, Handler::Finish f) {
              h.RemoveRef("members", *groups, p.Get("id"), p.Get("member"), std::move(f));
            });
  for (const TypeSchema* t : {groups, apps, sps}) {
    std::string base = "/v1.0/" + std::string(t->collection) + "/{id}/owners";
    add("GET", base, [t](Handler& h, const http::RouteParams& p) {
      return h.ListLinks("owners", LinkDirection::kOutgoing, p.Get("id"), false, *t);
    });
    add_write("POST", base + "/$ref",
              [t](Handler& h, const http::RouteParams& p, Handler::Finish f) {
                h.AddRef("owners", *t, p.Get("id"), std::move(f));
              });
    add_write("DELETE", base + "/{owner}/$ref",
              [t](Handler& h, const http::RouteParams& p, Handler::Finish f) {
                h.RemoveRef("owners", *t, p.Get("id"), p.Get("owner"), std::move(f));
              });
  }
  add_write("POST", "/v1.0/applications/{id}/addPassword",
            [](Handler& h, const http::RouteParams& p, Handler::Finish f) {
              h.AddPassword(p.Get("id"), std::move(f));
            });
  add_write("POST", "/v1.0/applications/{id}/removePassword",
            [](Handler& h, const http::RouteParams& p, Handler::Finish f) {
              h.RemovePassword(p.Get("id"), std::move(f));
            });
  const std::string taps = "/v1.0/users/{id}/authentication/temporaryAccessPassMethods";
  add_write("POST", taps, [](Handler& h, const http::RouteParams& p, Handler::Finish f) {
    h.IssueTap(p.Get("id"), std::move(f));
  });
  add("GET", taps,
      [](Handler& h, const http::RouteParams& p) { return h.Taps(p.Get("id"), std::nullopt); });
  add("GET", taps + "/{method}",
      [](Handler& h, const http::RouteParams& p) { return h.Taps(p.Get("id"), p.Get("method")); });
  add_write("DELETE", taps + "/{method}",
            [](Handler& h, const http::RouteParams& p, Handler::Finish f) {
              h.DeleteTap(p.Get("id"), p.Get("method"), std::move(f));
            });
  const std::string requirements = "/v1.0/users/{id}/authentication/requirements";
  add("GET", requirements,
      [](Handler& h, const http::RouteParams& p) { return h.MfaRequirement(p.Get("id")); });
  add_write("PATCH", requirements, [](Handler& h, const http::RouteParams& p, Handler::Finish f) {
    h.SetMfaRequirement(p.Get("id"), std::move(f));
  });
  add("GET", "/v1.0/organization",
      [](Handler& h, const http::RouteParams&) { return h.Organization(std::nullopt); });
  add("GET", "/v1.0/organization/{id}",
      [](Handler& h, const http::RouteParams& p) { return h.Organization(p.Get("id")); });
  add("GET", "/v1.0/directoryObjects/{id}",
      [](Handler& h, const http::RouteParams& p) { return h.DirectoryObject(p.Get("id")); });
  add("GET", "/v1.0/auditLogs/directoryAudits",
      [](Handler& h, const http::RouteParams&) { return h.Audits(); });
  add("GET", "/v1.0/auditLogs/signIns",
      [](Handler& h, const http::RouteParams&) { return h.SignIns(); });
  add("GET", "/v1.0/me", [users](Handler& h, const http::RouteParams&) { return h.Me(*users); });
}

}  // namespace meridian::graph
