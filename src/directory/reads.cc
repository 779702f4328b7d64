#include "directory/reads.h"

#include <boost/json.hpp>
#include <deque>
#include <map>

#include "common/encoding.h"
#include "crypto/sha.h"
#include "directory/state_machine.h"
#include "odata/eval.h"

namespace meridian::directory {
namespace json = boost::json;
using store::TenantKeys;

namespace {

// A record of a log (the audit log, the sign-in log) as a page's item.
Object LogItem(std::string type, json::object record) {
  Object o;
  o.type = std::move(type);
  o.id = Str(record, "id");
  o.data = std::move(record);
  return o;
}

constexpr int kMaxTransitive = 10000;
constexpr int kScanBudgetPerPage = 20000;

// The id in an index key: what follows the value's 00 01 terminator.
std::string_view IdOfIndexKey(std::string_view key, size_t prefix_len) {
  for (size_t i = prefix_len; i + 1 < key.size(); ++i) {
    if (key[i] == '\0') {
      if (key[i + 1] == '\x01') return key.substr(i + 2);
      ++i;  // escaped 00 FF
    }
  }
  return {};
}

// [begin, end) of one index range.
std::pair<std::string, std::string> RangeBounds(const std::string& prefix, const IndexRange& r) {
  using store::EncodeIndexPrefix;
  using store::EncodeIndexValue;
  switch (r.kind) {
    case IndexRange::Kind::kEq: {
      std::string b = prefix + EncodeIndexValue(r.low);
      return {b, store::PrefixEnd(b)};
    }
    case IndexRange::Kind::kPrefix: {
      std::string b = prefix + EncodeIndexPrefix(r.low);
      return {b, store::PrefixEnd(b)};
    }
    case IndexRange::Kind::kInterval: {
      std::string b = prefix, e = store::PrefixEnd(prefix);
      // Null is indexed as a single 00 byte; ranges never include it.
      if (r.has_low) {
        b = prefix + EncodeIndexValue(r.low);
        if (!r.low_inclusive) b = store::PrefixEnd(b);
      } else {
        b = store::PrefixEnd(prefix + EncodeIndexValue(std::string(1, '\0')));
      }
      if (r.has_high) {
        e = prefix + EncodeIndexValue(r.high);
        if (r.high_inclusive) e = store::PrefixEnd(e);
      }
      return {b, e};
    }
  }
  return {prefix, store::PrefixEnd(prefix)};
}

bool InRange(const IndexRange& r, const json::object& data) {
  auto* v = data.if_contains(r.prop);
  if (!v) return false;
  std::vector<std::string> values;
  std::string folded;
  if (v->is_array()) {
    for (const auto& e : v->get_array()) {
      if (IndexValue(e, &folded)) values.push_back(folded);
    }
  } else if (IndexValue(*v, &folded)) {
    values.push_back(folded);
  }
  for (const std::string& x : values) {
    switch (r.kind) {
      case IndexRange::Kind::kEq:
        if (x == r.low) return true;
        break;
      case IndexRange::Kind::kPrefix:
        if (StartsWith(x, r.low)) return true;
        break;
      case IndexRange::Kind::kInterval: {
        bool lo = !r.has_low || (r.low_inclusive ? x >= r.low : x > r.low);
        bool hi = !r.has_high || (r.high_inclusive ? x <= r.high : x < r.high);
        if (lo && hi) return true;
      }
    }
  }
  return false;
}


std::string Mac(std::string_view key, std::string_view tenant, std::string_view fingerprint,
                std::string_view payload) {
  std::string data;
  data.append(tenant).append("\n").append(fingerprint).append("\n").append(payload);
  return crypto::HmacSha256(key, data).substr(0, 16);
}

}  // namespace

Status SkipTokens::Bad() {
  return InvalidArgument("The $skiptoken is invalid or belongs to another query.",
                         "Request_BadRequest");
}

std::string SkipTokens::Make(std::string_view tenant, std::string_view fingerprint, size_t branch,
                             std::string_view relative_key) const {
  json::object t{{"b", branch}, {"k", Base64UrlEncode(relative_key)}};
  std::string payload = json::serialize(t);
  return Base64UrlEncode(payload) + "." + Base64UrlEncode(Mac(key_, tenant, fingerprint, payload));
}

Result<SkipPosition> SkipTokens::Parse(std::string_view token, std::string_view tenant,
                                       std::string_view fingerprint) const {
  SkipPosition pos;
  if (token.empty()) return pos;
  size_t dot = token.find('.');
  if (dot == std::string_view::npos || token.size() > 4096) return Bad();
  auto payload = Base64UrlDecode(token.substr(0, dot));
  auto mac = Base64UrlDecode(token.substr(dot + 1));
  if (!payload || !mac ||
      !crypto::ConstantTimeEquals(*mac, Mac(key_, tenant, fingerprint, *payload))) {
    return Bad();
  }
  boost::system::error_code ec;
  json::value v = json::parse(*payload, ec);
  if (ec || !v.is_object()) return Bad();
  auto& o = v.get_object();
  auto* b = o.if_contains("b");
  auto* k = o.if_contains("k");
  if (!b || !k || !k->is_string()) return Bad();
  if (b->is_uint64()) pos.branch = b->get_uint64();
  else if (b->is_int64() && b->get_int64() >= 0) pos.branch = b->get_int64();
  else return Bad();
  auto key = Base64UrlDecode(k->get_string());
  if (!key) return Bad();
  pos.key = std::move(*key);
  return pos;
}

TenantReader::TenantReader(const store::ReadView& view, std::string tenant,
                           const SkipTokens& tokens, int64_t max_unindexed_scan)
    : view_(view),
      tenant_(std::move(tenant)),
      keys_(tenant_),
      tokens_(tokens),
      max_unindexed_scan_(max_unindexed_scan) {}

Result<int64_t> TenantReader::Count(const TypeSchema& type) const {
  MERIDIAN_ASSIGN_OR_RETURN(auto raw, view_.Get(keys_.Counter(type.type)));
  return raw && raw->size() == 8 ? static_cast<int64_t>(GetBigEndian64(*raw)) : 0;
}

Result<Page> TenantReader::List(const TypeSchema& type, const ListQuery& q) const {
  MERIDIAN_ASSIGN_OR_RETURN(SkipPosition pos, tokens_.Parse(q.skiptoken, tenant_, q.fingerprint));

  // Choose the scans. With $orderby the order property's index is walked in order (a range of it
  // when the filter's plan is a single range on the same property); otherwise the filter's index
  // ranges; otherwise every object in id order.
  struct Scan {
    std::string begin, end, prefix;
    bool index;  // index entries (the id follows the value) or object records
  };
  std::vector<Scan> scans;
  bool served = q.has_filter && !q.branches.empty();
  if (!q.orderby.empty()) {
    std::string prefix = keys_.IndexPrefix(type.type, q.orderby);
    if (served && q.branches.size() == 1 && q.branches[0].prop == q.orderby) {
      auto [b, e] = RangeBounds(prefix, q.branches[0]);
      scans.push_back({b, e, prefix, true});
    } else {
      scans.push_back({prefix, store::PrefixEnd(prefix), prefix, true});
      served = !q.has_filter;
    }
  } else if (served) {
    for (const IndexRange& r : q.branches) {
      std::string prefix = keys_.IndexPrefix(type.type, r.prop);
      auto [b, e] = RangeBounds(prefix, r);
      scans.push_back({b, e, prefix, true});
    }
  } else {
    std::string prefix = keys_.ObjectPrefix(type.type);
    scans.push_back({prefix, store::PrefixEnd(prefix), prefix, false});
    served = !q.has_filter;
  }
  if (!served) {
    MERIDIAN_ASSIGN_OR_RETURN(int64_t n, Count(type));
    if (n > max_unindexed_scan_) {
      return Status(Code::kUnsupported,
                    "This query needs a scan of " + std::to_string(n) + " " +
                        std::string(type.collection) +
                        ": filter with eq, in, startswith or a range on an indexed property, and "
                        "order only by the filtered property.",
                    "Request_UnsupportedQuery");
    }
  }
  if (pos.branch >= scans.size()) return SkipTokens::Bad();

  Page page;
  int budget = kScanBudgetPerPage;
  bool reverse = q.descending && !q.orderby.empty();
  for (size_t bi = pos.branch; bi < scans.size(); ++bi) {
    Scan s = scans[bi];
    if (bi == pos.branch && !pos.key.empty()) {
      // Resume at the first key the previous page did not consume, never outside this range.
      std::string at = keys_.prefix() + pos.key;
      if (at < s.begin || at >= s.end) return SkipTokens::Bad();
      if (reverse) s.end = at + '\0';
      else s.begin = at;
    }
    std::string last_key;
    bool stop = false;
    Status err;
    Status st = view_.Scan(s.begin, s.end, reverse, [&](std::string_view k, std::string_view v) {
      last_key = std::string(k);
      if (--budget < 0 || static_cast<int>(page.items.size()) >= q.top) {
        stop = true;
        return false;
      }
      Result<Object> obj = s.index
          ? ReadObject(view_, keys_, type.type, IdOfIndexKey(k, s.prefix.size()))
          : DecodeObject(type.type, v);
      if (!obj.ok()) {
        err = obj.status();
        return false;
      }
      if (q.filter && !q.filter(obj->data)) return true;
      // A later branch skips what an earlier one already returned.
      if (q.orderby.empty()) {
        for (size_t e = 0; e < bi && q.branches.size() > e; ++e) {
          if (InRange(q.branches[e], obj->data)) return true;
        }
      }
      page.items.push_back(std::move(obj).value());
      return true;
    });
    MERIDIAN_RETURN_IF_ERROR(st);
    MERIDIAN_RETURN_IF_ERROR(err);
    if (stop) {
      page.next_skiptoken = tokens_.Make(tenant_, q.fingerprint, bi,
                                          std::string_view(last_key).substr(keys_.prefix().size()));
      break;
    }
  }
  if (q.count) {
    if (!q.has_filter) {
      MERIDIAN_ASSIGN_OR_RETURN(int64_t n, Count(type));
      page.count = n;
    } else {
      ListQuery all = q;
      all.count = false;
      all.skiptoken.clear();
      all.top = 1000;
      int64_t n = 0;
      for (int guard = 0; guard < 1000; ++guard) {
        MERIDIAN_ASSIGN_OR_RETURN(Page part, List(type, all));
        n += static_cast<int64_t>(part.items.size());
        if (part.next_skiptoken.empty()) break;
        all.skiptoken = part.next_skiptoken;
      }
      page.count = n;
    }
  }
  return page;
}

Result<Page> TenantReader::ListLinks(std::string_view relation, LinkDirection direction,
                                     std::string_view id_in, bool transitive, int top,
                                     std::string_view skiptoken_in) const {
  // The token is MAC'd like a list's, over a fingerprint of this relationship listing.
  std::string fingerprint = "links/" + std::string(relation) + "/" +
                            (direction == LinkDirection::kOutgoing ? "out/" : "in/") +
                            AsciiLower(id_in) + (transitive ? "/transitive" : "");
  MERIDIAN_ASSIGN_OR_RETURN(SkipPosition pos, tokens_.Parse(skiptoken_in, tenant_, fingerprint));
  const std::string& skiptoken = pos.key;  // the last id of the previous page
  if (!skiptoken.empty() && !IsUuid(skiptoken)) return SkipTokens::Bad();
  std::string id = AsciiLower(id_in);
  MERIDIAN_ASSIGN_OR_RETURN(auto kind, view_.Get(keys_.Kind(id)));
  if (!kind) return ReadObject(view_, keys_, "user", id).status();  // NotFound
  auto prefix_of = [&](const std::string& x) {
    return direction == LinkDirection::kOutgoing ? keys_.LinkPrefix(relation, x)
                                                 : keys_.ReverseLinkPrefix(relation, x);
  };
  // Related ids in id order, each with its type (the link's value).
  std::vector<std::pair<std::string, std::string>> related;
  if (!transitive) {
    std::string prefix = prefix_of(id);
    std::string begin = prefix + std::string(skiptoken);
    if (!skiptoken.empty()) begin.push_back('\0');
    MERIDIAN_RETURN_IF_ERROR(view_.Scan(begin, store::PrefixEnd(prefix), false,
                                        [&](std::string_view k, std::string_view v) {
      related.emplace_back(std::string(k.substr(prefix.size())), std::string(v));
      return static_cast<int>(related.size()) <= top;
    }));
  } else {
    // Breadth-first through nested groups; each edge is one index entry.
    std::map<std::string, std::string> seen;
    std::deque<std::string> queue{id};
    while (!queue.empty()) {
      std::string cur = queue.front();
      queue.pop_front();
      std::string prefix = prefix_of(cur);
      MERIDIAN_RETURN_IF_ERROR(view_.Scan(prefix, store::PrefixEnd(prefix), false,
                                          [&](std::string_view k, std::string_view v) {
        std::string other(k.substr(prefix.size()));
        if (other != id && seen.emplace(other, std::string(v)).second && v == "group") {
          queue.push_back(other);
        }
        return true;
      }));
      if (seen.size() > kMaxTransitive) {
        return Status(Code::kUnsupported, "The transitive closure is too large to list.",
                      "Request_UnsupportedQuery");
      }
    }
    for (auto it = seen.upper_bound(std::string(skiptoken));
         it != seen.end() && static_cast<int>(related.size()) <= top; ++it) {
      related.emplace_back(it->first, it->second);
    }
  }
  Page page;
  for (size_t i = 0; i < related.size() && static_cast<int>(i) < top; ++i) {
    MERIDIAN_ASSIGN_OR_RETURN(Object o, ReadObject(view_, keys_, related[i].second, related[i].first));
    page.items.push_back(std::move(o));
  }
  if (static_cast<int>(related.size()) > top) {
    page.next_skiptoken = tokens_.Make(tenant_, fingerprint, 0, page.items.back().id);
  }
  return page;
}

Result<Page> TenantReader::ListAudit(int top, std::string_view skiptoken) const {
  std::string prefix = keys_.AuditPrefix();
  std::string end = store::PrefixEnd(prefix);
  constexpr char kFingerprint[] = "audit";
  if (!skiptoken.empty()) {
    MERIDIAN_ASSIGN_OR_RETURN(SkipPosition pos, tokens_.Parse(skiptoken, tenant_, kFingerprint));
    if (pos.key.size() != 8 && pos.key.size() != 10) return SkipTokens::Bad();
    end = prefix + pos.key;
  }
  Page page;
  Status err;
  std::string last_suffix;
  MERIDIAN_RETURN_IF_ERROR(view_.Scan(prefix, end, true, [&](std::string_view k, std::string_view v) {
    if (static_cast<int>(page.items.size()) >= top) {
      // More remain: the next page ends (exclusively) at the last record of this one.
      page.next_skiptoken = tokens_.Make(tenant_, kFingerprint, 0, last_suffix);
      return false;
    }
    auto rec = ParseObject(v, "audit record");
    if (!rec.ok()) {
      err = rec.status();
      return false;
    }
    last_suffix = std::string(k.substr(prefix.size()));
    page.items.push_back(LogItem("directoryAudit", std::move(rec).value()));
    return true;
  }));
  MERIDIAN_RETURN_IF_ERROR(err);
  return page;
}

Result<Page> TenantReader::ListSignIns(const SignInQuery& q) const {
  auto id_ok = [](const std::string& id) { return id.find('/') == std::string::npos; };
  Page page;
  if (!id_ok(q.user_id) || !id_ok(q.app_id)) return page;  // no record has such an id
  const std::string log = keys_.SignInPrefix();
  std::string prefix = !q.user_id.empty()  ? keys_.SignInByUserPrefix(q.user_id)
                       : !q.app_id.empty() ? keys_.SignInByAppPrefix(q.app_id)
                                           : log;
  auto at = [&](int64_t ms) {
    std::string k = prefix;
    PutBigEndian64(&k, static_cast<uint64_t>(std::max<int64_t>(ms, 0)));
    return k;
  };
  std::string begin = q.from_ms ? at(*q.from_ms) : prefix;
  std::string end = q.until_ms ? at(*q.until_ms + 1) : store::PrefixEnd(prefix);
  const std::string fingerprint = "signIns:" + q.fingerprint;
  if (!q.skiptoken.empty()) {
    MERIDIAN_ASSIGN_OR_RETURN(SkipPosition pos, tokens_.Parse(q.skiptoken, tenant_, fingerprint));
    if (pos.key.size() <= 8) return SkipTokens::Bad();
    end = std::min(end, prefix + pos.key);
  }
  if (begin >= end) return page;
  Status err;
  int examined = 0;
  std::string last_suffix;
  MERIDIAN_RETURN_IF_ERROR(
      view_.Scan(begin, end, true, [&](std::string_view k, std::string_view v) {
        std::string suffix(k.substr(prefix.size()));
        if (examined++ >= kSignInScanBudget) {
          // The budget is spent: the next page goes on below the last record examined.
          page.next_skiptoken = tokens_.Make(tenant_, fingerprint, 0, last_suffix);
          return false;
        }
        std::optional<std::string> stored(v);
        if (prefix != log) {
          auto r = view_.Get(log + suffix);
          if (!r.ok()) {
            err = r.status();
            return false;
          }
          stored = *r;
        }
        if (!stored) {
          err = Internal("sign-in index entry without its record");
          return false;
        }
        auto rec = ParseObject(*stored, "sign-in record");
        if (!rec.ok()) {
          err = rec.status();
          return false;
        }
        if (q.filter && !odata::Matches(*q.filter, *rec)) {
          last_suffix = suffix;
          return true;
        }
        if (static_cast<int>(page.items.size()) >= q.top) {
          // Another match: the next page ends (exclusively) at the last record of this one.
          page.next_skiptoken = tokens_.Make(tenant_, fingerprint, 0, last_suffix);
          return false;
        }
        last_suffix = suffix;
        page.items.push_back(LogItem("signIn", std::move(rec).value()));
        return true;
      }));
  MERIDIAN_RETURN_IF_ERROR(err);
  return page;
}

}  // namespace meridian::directory
