// Status and Result<T>: how every Meridian module reports failure. No exception crosses a module
// boundary; a function that can fail returns one of these and callers must look at it.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace meridian {

// The kinds of failure. The HTTP layer maps each to a status code in one table (graph/errors.h).
enum class Code {
  kOk = 0,
  kInvalidArgument,     // 400: the caller sent something malformed or not allowed
  kUnauthenticated,     // 401: no credentials, or they did not verify
  kPermissionDenied,    // 403: verified, but not allowed
  kNotFound,            // 404
  kMethodNotAllowed,    // 405
  kAlreadyExists,       // 409: a uniqueness constraint (userPrincipalName, appId, ...)
  kFailedPrecondition,  // 412: If-Match did not match
  kTooLarge,            // 413
  kUnsupported,         // 400 with a distinct Graph code: a query the store will not serve
  kResourceExhausted,   // 429
  kUnavailable,         // 503
  kInternal,            // 500: a bug or an I/O failure
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message, std::string graph_code = {})
      : code_(code), message_(std::move(message)), graph_code_(std::move(graph_code)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // A more specific error code for the wire (Graph's "Request_BadRequest", OAuth's
  // "invalid_client", ...); empty means "derive it from code()".
  const std::string& graph_code() const { return graph_code_; }
  std::string ToString() const;

  // Marks a status as deliberately ignored.
  void IgnoreError() const {}

 private:
  Code code_ = Code::kOk;
  std::string message_;
  std::string graph_code_;
};

inline Status InvalidArgument(std::string m, std::string gc = {}) {
  return Status(Code::kInvalidArgument, std::move(m), std::move(gc));
}
inline Status NotFound(std::string m) { return Status(Code::kNotFound, std::move(m)); }
inline Status AlreadyExists(std::string m) { return Status(Code::kAlreadyExists, std::move(m)); }
inline Status Internal(std::string m) { return Status(Code::kInternal, std::move(m)); }
inline Status Unauthenticated(std::string m) {
  return Status(Code::kUnauthenticated, std::move(m));
}
inline Status PermissionDenied(std::string m) {
  return Status(Code::kPermissionDenied, std::move(m));
}

// Either a T or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok());
  }

  bool ok() const { return v_.index() == 0; }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<1>(v_);
  }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace meridian

// Returns the status from the enclosing function if `expr` is not OK.
#define MERIDIAN_RETURN_IF_ERROR(expr)        \
  do {                                        \
    ::meridian::Status _st = (expr);          \
    if (!_st.ok()) return _st;                \
  } while (0)

#define MERIDIAN_CONCAT_INNER(a, b) a##b
#define MERIDIAN_CONCAT(a, b) MERIDIAN_CONCAT_INNER(a, b)
// `MERIDIAN_ASSIGN_OR_RETURN(auto x, F());` assigns F()'s value or returns its status.
#define MERIDIAN_ASSIGN_OR_RETURN(lhs, expr) \
  MERIDIAN_ASSIGN_OR_RETURN_IMPL(MERIDIAN_CONCAT(_res_, __LINE__), lhs, expr)
#define MERIDIAN_ASSIGN_OR_RETURN_IMPL(res, lhs, expr) \
  auto res = (expr);                                   \
  if (!res.ok()) return res.status();                  \
  lhs = std::move(res).value()
