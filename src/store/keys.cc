#include "store/keys.h"

#include "common/encoding.h"

namespace meridian::store {

std::string EncodeIndexPrefix(std::string_view value) {
  std::string out;
  out.reserve(value.size() + 2);
  for (char c : value) {
    out.push_back(c);
    if (c == '\0') out.push_back('\xff');
  }
  return out;
}

std::string EncodeIndexValue(std::string_view value) {
  std::string out = EncodeIndexPrefix(value);
  out.push_back('\0');
  out.push_back('\x01');
  return out;
}

std::string PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    unsigned char last = static_cast<unsigned char>(end.back());
    if (last != 0xff) {
      end.back() = static_cast<char>(last + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\xff');  // everything; cannot happen for our non-empty prefixes
}

Status ValidateTenantId(std::string_view tenant_id) {
  if (tenant_id.empty()) return InvalidArgument("empty tenant id");
  if (tenant_id.find('/') != std::string_view::npos) {
    return InvalidArgument("tenant id " + PrintableKey(tenant_id) + " contains '/'");
  }
  return Status::Ok();
}

bool KeyInPrefix(std::string_view prefix, std::string_view key) {
  return key.substr(0, prefix.size()) == prefix;
}

bool RangeInPrefix(std::string_view prefix, std::string_view begin, std::string_view end) {
  return begin >= prefix && end <= PrefixEnd(prefix);
}

std::string PrintableKey(std::string_view key) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(key.size());
  for (char c : key) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f && c != '\\') {
      out.push_back(c);
    } else {
      out += "\\x";
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

TenantKeys::TenantKeys(std::string_view tenant_id) {
  prefix_.reserve(tenant_id.size() + 2);
  prefix_.push_back('T');
  prefix_.append(tenant_id);
  prefix_.push_back('/');
}

std::string TenantKeys::Join(std::initializer_list<std::string_view> parts) const {
  std::string k = prefix_;
  for (std::string_view p : parts) k.append(p);
  return k;
}

std::string TenantKeys::Organization() const { return Join({"org"}); }
std::string TenantKeys::Object(std::string_view type, std::string_view id) const {
  return Join({"o/", type, "/", id});
}
std::string TenantKeys::ObjectPrefix(std::string_view type) const {
  return Join({"o/", type, "/"});
}
std::string TenantKeys::IndexPrefix(std::string_view type, std::string_view prop) const {
  return Join({"x/", type, "/", prop, "/"});
}
std::string TenantKeys::Index(std::string_view type, std::string_view prop, std::string_view value,
                              std::string_view id) const {
  return Join({"x/", type, "/", prop, "/", EncodeIndexValue(value), id});
}
std::string TenantKeys::Unique(std::string_view type, std::string_view prop,
                               std::string_view value) const {
  return Join({"u/", type, "/", prop, "/", EncodeIndexValue(value)});
}
std::string TenantKeys::Link(std::string_view relation, std::string_view source,
                             std::string_view target) const {
  return Join({"l/", relation, "/", source, "/", target});
}
std::string TenantKeys::LinkPrefix(std::string_view relation, std::string_view source) const {
  return Join({"l/", relation, "/", source, "/"});
}
std::string TenantKeys::ReverseLink(std::string_view relation, std::string_view target,
                                    std::string_view source) const {
  return Join({"r/", relation, "/", target, "/", source});
}
std::string TenantKeys::ReverseLinkPrefix(std::string_view relation,
                                          std::string_view target) const {
  return Join({"r/", relation, "/", target, "/"});
}
std::string TenantKeys::RoleGroupMembership(std::string_view principal,
                                            std::string_view group) const {
  return Join({"m/", principal, "/", group});
}
std::string TenantKeys::RoleGroupMembershipPrefix(std::string_view principal) const {
  return Join({"m/", principal, "/"});
}
std::string TenantKeys::Kind(std::string_view id) const { return Join({"i/", id}); }
std::string TenantKeys::Counter(std::string_view type) const { return Join({"c/", type}); }
std::string TenantKeys::Audit(uint64_t lsn, uint16_t seq) const {
  std::string k = Join({"a/"});
  PutBigEndian64(&k, lsn);
  if (seq > 0) {
    k.push_back(static_cast<char>(seq >> 8));
    k.push_back(static_cast<char>(seq & 0xff));
  }
  return k;
}
std::string TenantKeys::AuditPrefix() const { return Join({"a/"}); }
std::string TenantKeys::SignIn(int64_t time_ms, std::string_view id) const {
  std::string k = SignInPrefix();
  PutBigEndian64(&k, static_cast<uint64_t>(time_ms));
  k.append(id);
  return k;
}
std::string TenantKeys::SignInPrefix() const { return Join({"s/t/"}); }
std::string TenantKeys::SignInByUserPrefix(std::string_view user) const {
  return Join({"s/u/", user, "/"});
}
std::string TenantKeys::SignInByAppPrefix(std::string_view app) const {
  return Join({"s/a/", app, "/"});
}
std::string TenantKeys::Grant(std::string_view kind, std::string_view handle) const {
  return Join({"g/", kind, "/", handle});
}

}  // namespace meridian::store
