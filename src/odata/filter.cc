#include "odata/filter.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <system_error>
#include <utility>

#include "common/encoding.h"
#include "common/random.h"
#include "odata/internal/literals.h"

namespace meridian::odata {
namespace {

using internal::Excerpt;

Status FilterError(std::string message) {
  return Status(Code::kInvalidArgument, "Invalid filter clause: " + std::move(message),
                kBadRequest);
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsIdentStart(char c) { return IsAlpha(c) || c == '_'; }
bool IsIdentChar(char c) { return IsAlpha(c) || IsDigit(c) || c == '_'; }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// ------------------------------------------------------------------------------------ lexer

enum class Tok {
  kEnd,
  kIdent,
  kLiteral,
  kLParen,
  kRParen,
  kComma,
  kColon,
  kSlash,
};

struct Token {
  Tok type = Tok::kEnd;
  size_t pos = 0;
  std::string_view text;  // as written
  Value value;            // kLiteral
};

bool MatchesGuidAt(std::string_view s, size_t i) {
  if (i + 36 > s.size() || !IsUuid(s.substr(i, 36))) return false;
  return i + 36 == s.size() || !(IsIdentChar(s[i + 36]) || s[i + 36] == '-');
}

// Splits the whole input into tokens, in one pass. Fails on unterminated strings, malformed
// literals and characters outside the language.
Status Tokenize(std::string_view s, std::vector<Token>* out) {
  size_t i = 0;
  while (true) {
    while (i < s.size() && IsSpace(s[i])) ++i;
    Token t;
    t.pos = i;
    if (i == s.size()) {
      out->push_back(t);
      return Status::Ok();
    }
    char c = s[i];
    if (c == '\'') {
      std::string value;
      size_t j = i + 1;
      bool closed = false;
      while (j < s.size()) {
        if (s[j] == '\'') {
          if (j + 1 < s.size() && s[j + 1] == '\'') {
            value.push_back('\'');
            j += 2;
            continue;
          }
          closed = true;
          ++j;
          break;
        }
        value.push_back(s[j++]);
      }
      if (!closed) {
        return FilterError("unterminated string literal starting at position " + std::to_string(i));
      }
      t.type = Tok::kLiteral;
      t.value = Value::String(std::move(value));
      i = j;
    } else if ((IsDigit(c) || IsAlpha(c)) && MatchesGuidAt(s, i)) {
      t.type = Tok::kLiteral;
      t.value = Value::Guid(std::string(s.substr(i, 36)));
      i += 36;
    } else if (IsDigit(c) && i + 4 < s.size() && IsDigit(s[i + 1]) && IsDigit(s[i + 2]) &&
               IsDigit(s[i + 3]) && s[i + 4] == '-') {
      size_t j = i;
      while (j < s.size() &&
             (IsIdentChar(s[j]) || s[j] == '-' || s[j] == '+' || s[j] == ':' || s[j] == '.')) {
        ++j;
      }
      std::string_view raw = s.substr(i, j - i);
      if (!internal::ParseDateTime(raw)) {
        return FilterError("malformed DateTimeOffset literal at position " + std::to_string(i) +
                           " ('" + Excerpt(raw) + "'); expected e.g. 2024-01-01T00:00:00Z");
      }
      t.type = Tok::kLiteral;
      t.value = Value::DateTime(std::string(raw));
      i = j;
    } else if (IsDigit(c) || (c == '-' && i + 1 < s.size() && IsDigit(s[i + 1]))) {
      size_t j = i + 1;
      while (j < s.size() && IsDigit(s[j])) ++j;
      bool is_double = false;
      bool malformed = false;
      auto digits = [&] {
        size_t start = j;
        while (j < s.size() && IsDigit(s[j])) ++j;
        if (j == start) malformed = true;
      };
      if (j < s.size() && s[j] == '.') {
        is_double = true;
        ++j;
        digits();
      }
      if (!malformed && j < s.size() && (s[j] == 'e' || s[j] == 'E')) {
        is_double = true;
        ++j;
        if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
        digits();
      }
      if (!malformed && j < s.size() && (IsIdentChar(s[j]) || s[j] == '.')) malformed = true;
      if (!malformed) {
        const char* first = s.data() + i;
        const char* last = s.data() + j;
        if (is_double) {
          double d = 0;
          auto r = std::from_chars(first, last, d);
          malformed = r.ec != std::errc() || r.ptr != last || !std::isfinite(d);
          t.value = Value::Double(d);
        } else {
          int64_t v = 0;
          auto r = std::from_chars(first, last, v);
          malformed = r.ec != std::errc() || r.ptr != last;
          t.value = Value::Int(v);
        }
      }
      if (malformed) {
        size_t end = i;
        while (end < s.size() && !IsSpace(s[end]) && s[end] != ')' && s[end] != ',') ++end;
        return FilterError("malformed number at position " + std::to_string(i) + " ('" +
                           Excerpt(s.substr(i, end - i)) + "')");
      }
      t.type = Tok::kLiteral;
      i = j;
    } else if (IsIdentStart(c) || (c == '$' && i + 1 < s.size() && IsIdentStart(s[i + 1]))) {
      size_t j = i + 1;
      while (j < s.size() && IsIdentChar(s[j])) ++j;
      t.type = Tok::kIdent;
      i = j;
    } else if (c == '(' || c == ')' || c == ',' || c == ':' || c == '/') {
      t.type = c == '('   ? Tok::kLParen
               : c == ')' ? Tok::kRParen
               : c == ',' ? Tok::kComma
               : c == ':' ? Tok::kColon
                          : Tok::kSlash;
      ++i;
    } else {
      return FilterError("syntax error at position " + std::to_string(i) + " ('" +
                         Excerpt(s.substr(i, 1)) + "'): unexpected character");
    }
    t.text = s.substr(t.pos, i - t.pos);
    out->push_back(std::move(t));
  }
}

// ------------------------------------------------------------------------------------ parser

bool IsKeyword(const Token& t, std::string_view keyword) {
  return t.type == Tok::kIdent && EqualsIgnoreCase(t.text, keyword);
}

std::optional<CompareOp> AsCompareOp(const Token& t) {
  static constexpr std::pair<std::string_view, CompareOp> kOps[] = {
      {"eq", CompareOp::kEq}, {"ne", CompareOp::kNe}, {"gt", CompareOp::kGt},
      {"ge", CompareOp::kGe}, {"lt", CompareOp::kLt}, {"le", CompareOp::kLe},
  };
  if (t.type != Tok::kIdent) return std::nullopt;
  for (const auto& [name, op] : kOps) {
    if (EqualsIgnoreCase(t.text, name)) return op;
  }
  return std::nullopt;
}

using NodePtr = std::unique_ptr<Node>;

// Recursive descent over the token vector. Recursion happens only at parentheses, `not` and
// lambda bodies, each of which counts against kMaxDepth, so the stack stays bounded; and/or
// chains are loops.
class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  Result<NodePtr> Run() {
    MERIDIAN_ASSIGN_OR_RETURN(NodePtr root, ParseOr());
    if (Peek().type != Tok::kEnd) {
      if (Peek().type == Tok::kRParen) return Unexpected(Peek(), "unbalanced ')'");
      return Unexpected(Peek(), "expected 'and', 'or' or the end of the filter");
    }
    return root;
  }

 private:
  // The token `ahead` places on (-1: the previous one); the end token when past the end.
  const Token& Peek(ptrdiff_t ahead = 0) const {
    ptrdiff_t k = static_cast<ptrdiff_t>(next_) + ahead;
    k = std::clamp<ptrdiff_t>(k, 0, static_cast<ptrdiff_t>(tokens_.size()) - 1);
    return tokens_[static_cast<size_t>(k)];
  }
  const Token& Take() {
    const Token& t = Peek();
    if (next_ < tokens_.size() - 1) ++next_;
    return t;
  }

  Status Unexpected(const Token& t, std::string_view expected) const {
    std::string where = "syntax error at position " + std::to_string(t.pos);
    if (t.type == Tok::kEnd) {
      where += " (end of input)";
    } else {
      where += " ('" + Excerpt(t.text) + "')";
    }
    return FilterError(where + ": " + std::string(expected));
  }

  Status Expect(Tok type, std::string_view expected) {
    if (Peek().type != type) return Unexpected(Peek(), expected);
    Take();
    return Status::Ok();
  }

  Status CountNode() {
    if (++nodes_ > kMaxNodes) {
      return FilterError("the filter has more than " + std::to_string(kMaxNodes) +
                         " operators and comparisons");
    }
    return Status::Ok();
  }

  Status Enter(const Token& at) {
    if (++depth_ > kMaxDepth) {
      return FilterError("nesting deeper than " + std::to_string(kMaxDepth) +
                         " levels at position " + std::to_string(at.pos));
    }
    return Status::Ok();
  }
  void Leave() { --depth_; }

  // Adds `child` to an and/or node, flattening a child of the same kind.
  static void Append(Node* parent, NodePtr child) {
    if (child->kind == parent->kind) {
      for (auto& grandchild : child->children) parent->children.push_back(std::move(grandchild));
    } else {
      parent->children.push_back(std::move(child));
    }
  }

  Result<NodePtr> ParseOr() { return ParseChain(NodeKind::kOr, "or"); }
  Result<NodePtr> ParseAnd() { return ParseChain(NodeKind::kAnd, "and"); }

  Result<NodePtr> ParseChain(NodeKind kind, std::string_view keyword) {
    auto operand = [&]() { return kind == NodeKind::kOr ? ParseAnd() : ParseUnary(); };
    MERIDIAN_ASSIGN_OR_RETURN(NodePtr first, operand());
    if (!IsKeyword(Peek(), keyword)) return first;
    auto node = std::make_unique<Node>();
    node->kind = kind;
    Append(node.get(), std::move(first));
    while (IsKeyword(Peek(), keyword)) {
      Take();
      MERIDIAN_RETURN_IF_ERROR(CountNode());
      MERIDIAN_ASSIGN_OR_RETURN(NodePtr next, operand());
      Append(node.get(), std::move(next));
    }
    return node;
  }

  Result<NodePtr> ParseUnary() {
    if (!IsKeyword(Peek(), "not")) return ParsePrimary();
    const Token& at = Take();
    MERIDIAN_RETURN_IF_ERROR(CountNode());
    MERIDIAN_RETURN_IF_ERROR(Enter(at));
    MERIDIAN_ASSIGN_OR_RETURN(NodePtr inner, ParseUnary());
    Leave();
    auto node = std::make_unique<Node>();
    node->kind = NodeKind::kNot;
    node->children.push_back(std::move(inner));
    return node;
  }

  Result<NodePtr> ParsePrimary() {
    const Token& t = Peek();
    if (t.type == Tok::kLParen) {
      MERIDIAN_RETURN_IF_ERROR(Enter(t));
      Take();
      MERIDIAN_ASSIGN_OR_RETURN(NodePtr inner, ParseOr());
      MERIDIAN_RETURN_IF_ERROR(Expect(Tok::kRParen, "expected ')' or 'and'/'or'"));
      Leave();
      return inner;
    }
    if (t.type != Tok::kIdent) {
      return Unexpected(t, "expected a property, a function or '('");
    }
    if (Peek(1).type == Tok::kLParen) {
      if (IsKeyword(t, "startswith") || IsKeyword(t, "endswith")) return ParseFunction();
      if (IsKeyword(t, "any") || IsKeyword(t, "all")) {
        return Unexpected(t, "any() and all() follow a collection property: coll/any(x: ...)");
      }
      return FilterError("unknown function '" + Excerpt(t.text) + "' at position " +
                         std::to_string(t.pos) + "; supported: startswith, endswith, any, all");
    }
    return ParseOperandExpression();
  }

  // What follows a path's '/' when the path ends there.
  enum class Suffix { kNone, kAny, kAll, kCount };

  // path := identifier ('/' identifier)*, stopping before '/any(', '/all(' and '/$count'. Sets
  // node->path and node->on_element.
  Result<Suffix> ParsePath(Node* node) {
    const Token& first = Peek();
    if (first.type != Tok::kIdent || first.text[0] == '$' || IsKeyword(first, "and") ||
        IsKeyword(first, "or")) {
      return Unexpected(first, "expected a property");
    }
    std::string path;
    if (!lambda_var_.empty()) {
      if (first.text != lambda_var_) {
        return FilterError("inside a lambda, properties must be read through its variable '" +
                           Excerpt(lambda_var_) + "' (position " + std::to_string(first.pos) +
                           ", '" + Excerpt(first.text) + "')");
      }
      node->on_element = true;
    } else {
      path = std::string(first.text);
    }
    Take();
    Suffix suffix = Suffix::kNone;
    // Segments and slashes are adjacent: "a/b", never "a / b".
    while (Peek().type == Tok::kSlash && Peek().pos == Peek(-1).pos + Peek(-1).text.size()) {
      const Token& seg = Peek(1);
      if (seg.type != Tok::kIdent || seg.pos != Peek().pos + 1) {
        return Unexpected(seg, "expected a property after '/'");
      }
      if ((IsKeyword(seg, "any") || IsKeyword(seg, "all")) && Peek(2).type == Tok::kLParen) {
        suffix = IsKeyword(seg, "any") ? Suffix::kAny : Suffix::kAll;
        break;
      }
      if (IsKeyword(seg, "$count")) {
        suffix = Suffix::kCount;
        break;
      }
      if (seg.text[0] == '$') return Unexpected(seg, "expected a property after '/'");
      if (!path.empty() || !node->on_element) path.push_back('/');
      path.append(seg.text);
      Take();
      Take();
    }
    node->path = std::move(path);
    return suffix;
  }

  Result<Value> ParseLiteral() {
    const Token& t = Peek();
    Value v;
    if (t.type == Tok::kLiteral) {
      v = t.value;
    } else if (IsKeyword(t, "true") || IsKeyword(t, "false")) {
      v = Value::Bool(IsKeyword(t, "true"));
    } else if (IsKeyword(t, "null")) {
      v = Value::Null();
    } else {
      return Unexpected(t, "expected a literal ('text', number, true, false, null, GUID, date)");
    }
    Take();
    return v;
  }

  Result<NodePtr> ParseFunction() {
    const Token& name = Take();
    MERIDIAN_RETURN_IF_ERROR(CountNode());
    auto node = std::make_unique<Node>();
    node->kind = IsKeyword(name, "startswith") ? NodeKind::kStartsWith : NodeKind::kEndsWith;
    Take();  // '('
    MERIDIAN_ASSIGN_OR_RETURN(Suffix suffix, ParsePath(node.get()));
    if (suffix != Suffix::kNone) return Unexpected(Peek(), "expected ','");
    MERIDIAN_RETURN_IF_ERROR(Expect(Tok::kComma, "expected ','"));
    const Token& arg = Peek();
    if (arg.type != Tok::kLiteral || arg.value.kind != ValueKind::kString) {
      return Unexpected(arg, "expected a quoted string");
    }
    node->values.push_back(arg.value);
    Take();
    MERIDIAN_RETURN_IF_ERROR(Expect(Tok::kRParen, "expected ')'"));
    return node;
  }

  Result<NodePtr> ParseOperandExpression() {
    auto node = std::make_unique<Node>();
    MERIDIAN_ASSIGN_OR_RETURN(Suffix suffix, ParsePath(node.get()));
    MERIDIAN_RETURN_IF_ERROR(CountNode());
    if (suffix == Suffix::kAny || suffix == Suffix::kAll) {
      return ParseLambda(std::move(node), suffix == Suffix::kAny);
    }
    if (suffix == Suffix::kCount) {
      if (node->on_element) {
        return FilterError("$count is not supported inside a lambda (position " +
                           std::to_string(Peek(1).pos) + ")");
      }
      Take();  // '/'
      Take();  // '$count'
      node->kind = NodeKind::kCount;
      std::optional<CompareOp> op = AsCompareOp(Peek());
      if (!op) return Unexpected(Peek(), "expected eq, ne, gt, ge, lt or le after $count");
      Take();
      node->op = *op;
      const Token& n = Peek();
      if (n.type != Tok::kLiteral || n.value.kind != ValueKind::kInt) {
        return Unexpected(n, "expected an integer after $count");
      }
      node->values.push_back(n.value);
      Take();
      return node;
    }
    if (std::optional<CompareOp> op = AsCompareOp(Peek())) {
      Take();
      node->kind = NodeKind::kCompare;
      node->op = *op;
      MERIDIAN_ASSIGN_OR_RETURN(Value v, ParseLiteral());
      node->values.push_back(std::move(v));
      return node;
    }
    if (IsKeyword(Peek(), "in")) {
      Take();
      node->kind = NodeKind::kIn;
      MERIDIAN_RETURN_IF_ERROR(Expect(Tok::kLParen, "expected '(' after 'in'"));
      while (true) {
        if (node->values.size() == kMaxInValues) {
          return FilterError("an 'in' list has more than " + std::to_string(kMaxInValues) +
                             " values (position " + std::to_string(Peek().pos) + ")");
        }
        MERIDIAN_ASSIGN_OR_RETURN(Value v, ParseLiteral());
        node->values.push_back(std::move(v));
        if (Peek().type == Tok::kRParen) break;
        MERIDIAN_RETURN_IF_ERROR(Expect(Tok::kComma, "expected ',' or ')'"));
      }
      Take();
      return node;
    }
    return Unexpected(Peek(), "expected eq, ne, gt, ge, lt, le or in");
  }

  Result<NodePtr> ParseLambda(NodePtr node, bool any) {
    if (!lambda_var_.empty()) {
      return FilterError("lambdas cannot be nested (position " + std::to_string(Peek(1).pos) + ")");
    }
    const Token& keyword = Peek(1);
    node->kind = any ? NodeKind::kAny : NodeKind::kAll;
    Take();  // '/'
    Take();  // any | all
    Take();  // '('
    if (Peek().type == Tok::kRParen) {
      if (!any) return Unexpected(Peek(), "all() needs a lambda: coll/all(x: ...)");
      Take();
      return node;
    }
    const Token& var = Peek();
    if (var.type != Tok::kIdent || var.text[0] == '$') {
      return Unexpected(var, "expected a lambda variable, as in coll/any(x: x eq 'v')");
    }
    Take();
    MERIDIAN_RETURN_IF_ERROR(Expect(Tok::kColon, "expected ':' after the lambda variable"));
    MERIDIAN_RETURN_IF_ERROR(Enter(keyword));
    node->variable = std::string(var.text);
    lambda_var_ = node->variable;
    MERIDIAN_ASSIGN_OR_RETURN(NodePtr body, ParseOr());
    lambda_var_.clear();
    Leave();
    MERIDIAN_RETURN_IF_ERROR(Expect(Tok::kRParen, "expected ')' to close the lambda"));
    node->children.push_back(std::move(body));
    return node;
  }

  std::vector<Token> tokens_;  // ends with a kEnd token
  size_t next_ = 0;
  int depth_ = 0;
  int nodes_ = 0;
  std::string lambda_var_;  // non-empty inside a lambda body
};

// ------------------------------------------------------------------------------------ validation

std::string TypeName(PropertyType t) {
  switch (t) {
    case PropertyType::kString:
      return "Edm.String";
    case PropertyType::kBool:
      return "Edm.Boolean";
    case PropertyType::kDateTime:
      return "Edm.DateTimeOffset";
    case PropertyType::kInt:
      return "Edm.Int64";
    case PropertyType::kGuid:
      return "Edm.Guid";
    case PropertyType::kStringCollection:
      return "Collection(Edm.String)";
    case PropertyType::kObjectCollection:
      return "a collection of complex values";
    case PropertyType::kObject:
      return "a complex value";
  }
  return "?";
}

std::string LiteralName(const Value& v) {
  switch (v.kind) {
    case ValueKind::kNull:
      return "null";
    case ValueKind::kBool:
      return "the boolean " + ToString(v);
    case ValueKind::kInt:
    case ValueKind::kDouble:
      return "the number " + ToString(v);
    case ValueKind::kString:
      return "the string " + Excerpt(ToString(v));
    case ValueKind::kGuid:
      return "the GUID " + v.text;
    case ValueKind::kDateTime:
      return "the date " + Excerpt(v.text);
  }
  return "?";
}

bool IsOrdering(CompareOp op) { return op != CompareOp::kEq && op != CompareOp::kNe; }

bool IsCollection(PropertyType t) {
  return t == PropertyType::kStringCollection || t == PropertyType::kObjectCollection;
}

// The collection a lambda body ranges over.
struct LambdaScope {
  std::string path;
  PropertyType type;
};

class Validator {
 public:
  explicit Validator(const Schema& schema) : schema_(schema) {}

  Status Check(const Node& n, const LambdaScope* scope) {
    switch (n.kind) {
      case NodeKind::kAnd:
      case NodeKind::kOr:
      case NodeKind::kNot:
        for (const auto& c : n.children) MERIDIAN_RETURN_IF_ERROR(Check(*c, scope));
        return Status::Ok();
      case NodeKind::kCompare: {
        MERIDIAN_ASSIGN_OR_RETURN(PropertyType t, TypeOf(n, scope));
        if (n.values.size() != 1) return FilterError("malformed comparison");
        return CheckComparable(Display(n, scope), t, n.op, n.values[0]);
      }
      case NodeKind::kIn: {
        MERIDIAN_ASSIGN_OR_RETURN(PropertyType t, TypeOf(n, scope));
        for (const Value& v : n.values) {
          MERIDIAN_RETURN_IF_ERROR(CheckComparable(Display(n, scope), t, CompareOp::kEq, v));
        }
        return Status::Ok();
      }
      case NodeKind::kStartsWith:
      case NodeKind::kEndsWith: {
        MERIDIAN_ASSIGN_OR_RETURN(PropertyType t, TypeOf(n, scope));
        if (t != PropertyType::kString) {
          return FilterError(
              std::string(n.kind == NodeKind::kStartsWith ? "startswith" : "endswith") +
              " needs a string property; '" + Excerpt(Display(n, scope)) + "' is " + TypeName(t));
        }
        return Status::Ok();
      }
      case NodeKind::kAny:
      case NodeKind::kAll:
      case NodeKind::kCount: {
        if (scope) return FilterError("lambdas and $count cannot be used inside a lambda");
        MERIDIAN_ASSIGN_OR_RETURN(PropertyType t, TypeOf(n, scope));
        std::string what = n.kind == NodeKind::kAny   ? "any()"
                           : n.kind == NodeKind::kAll ? "all()"
                                                      : "$count";
        if (!IsCollection(t)) {
          return FilterError(what + " needs a collection; '" + Excerpt(n.path) + "' is " +
                             TypeName(t));
        }
        if (n.kind == NodeKind::kCount) {
          if (n.values.size() != 1 || n.values[0].kind != ValueKind::kInt) {
            return FilterError("$count is compared with an integer");
          }
          return Status::Ok();
        }
        LambdaScope inner{n.path, t};
        for (const auto& c : n.children) MERIDIAN_RETURN_IF_ERROR(Check(*c, &inner));
        return Status::Ok();
      }
    }
    return FilterError("malformed filter");
  }

 private:
  static std::string Display(const Node& n, const LambdaScope* scope) {
    if (!n.on_element || !scope) return n.path;
    return n.path.empty() ? scope->path : scope->path + "/" + n.path;
  }

  Result<PropertyType> TypeOf(const Node& n, const LambdaScope* scope) {
    if (n.on_element != (scope != nullptr)) {
      return FilterError(n.on_element ? "a lambda variable is used outside its lambda"
                                      : "inside a lambda, properties must be read through its "
                                        "variable");
    }
    if (!n.on_element) {
      std::optional<PropertyType> t = schema_(n.path);
      if (!t) return FilterError("property '" + Excerpt(n.path) + "' does not exist");
      return *t;
    }
    if (scope->type == PropertyType::kStringCollection) {
      if (!n.path.empty()) {
        return FilterError("the elements of '" + Excerpt(scope->path) +
                           "' are strings; they have no '" + Excerpt(n.path) + "'");
      }
      return PropertyType::kString;
    }
    if (n.path.empty()) {
      return FilterError("the elements of '" + Excerpt(scope->path) +
                         "' are complex values; compare one of their properties (x/name)");
    }
    std::string full = scope->path + "/" + n.path;
    std::optional<PropertyType> t = schema_(full);
    if (!t) return FilterError("property '" + Excerpt(full) + "' does not exist");
    return *t;
  }

  static Status CheckComparable(const std::string& path, PropertyType t, CompareOp op,
                                const Value& v) {
    if (IsCollection(t)) {
      return FilterError("property '" + Excerpt(path) + "' is " + TypeName(t) +
                         "; filter it with any() or all()");
    }
    if (t == PropertyType::kObject) {
      return FilterError("property '" + Excerpt(path) +
                         "' is a complex value; compare one of its properties");
    }
    if (v.kind == ValueKind::kNull) {
      if (IsOrdering(op)) return FilterError("null can only be compared with eq or ne");
      return Status::Ok();
    }
    bool fits = false;
    switch (t) {
      case PropertyType::kString:
        fits = v.kind == ValueKind::kString || v.kind == ValueKind::kGuid;
        break;
      case PropertyType::kGuid:
        fits = v.kind == ValueKind::kGuid || (v.kind == ValueKind::kString && IsUuid(v.text));
        break;
      case PropertyType::kDateTime:
        fits = v.kind == ValueKind::kDateTime;
        break;
      case PropertyType::kInt:
        fits = v.kind == ValueKind::kInt || v.kind == ValueKind::kDouble;
        break;
      case PropertyType::kBool:
        fits = v.kind == ValueKind::kBool;
        if (fits && IsOrdering(op)) {
          return FilterError("property '" + Excerpt(path) +
                             "' is a boolean; compare it with eq or ne");
        }
        break;
      default:
        break;
    }
    if (!fits) {
      return FilterError(LiteralName(v) + " cannot be compared with property '" + Excerpt(path) +
                         "' of type " + TypeName(t));
    }
    return Status::Ok();
  }

  const Schema& schema_;
};

void Canonicalize(Node* n, const std::function<std::string(std::string_view)>& canonical,
                  const std::string* collection) {
  switch (n->kind) {
    case NodeKind::kAnd:
    case NodeKind::kOr:
    case NodeKind::kNot:
      for (auto& c : n->children) Canonicalize(c.get(), canonical, collection);
      return;
    case NodeKind::kAny:
    case NodeKind::kAll:
    case NodeKind::kCount:
      if (!n->on_element) n->path = canonical(n->path);
      for (auto& c : n->children) Canonicalize(c.get(), canonical, &n->path);
      return;
    case NodeKind::kCompare:
    case NodeKind::kIn:
    case NodeKind::kStartsWith:
    case NodeKind::kEndsWith:
      if (!n->on_element) {
        n->path = canonical(n->path);
      } else if (collection && !n->path.empty()) {
        std::string full = canonical(*collection + "/" + n->path);
        if (full.size() > collection->size() + 1 && StartsWith(full, *collection) &&
            full[collection->size()] == '/') {
          n->path = full.substr(collection->size() + 1);
        }
      }
      return;
  }
}

// ------------------------------------------------------------------------------------ printing

void PrintOperand(const Node& n, const std::string& variable, std::string* out) {
  if (!n.on_element) {
    out->append(n.path);
    return;
  }
  out->append(variable);
  if (!n.path.empty()) {
    out->push_back('/');
    out->append(n.path);
  }
}

void Print(const Node& n, const std::string& variable, std::string* out) {
  switch (n.kind) {
    case NodeKind::kAnd:
    case NodeKind::kOr: {
      bool first = true;
      for (const auto& c : n.children) {
        if (!first) out->append(n.kind == NodeKind::kAnd ? " and " : " or ");
        first = false;
        bool parens = n.kind == NodeKind::kAnd && c->kind == NodeKind::kOr;
        if (parens) out->push_back('(');
        Print(*c, variable, out);
        if (parens) out->push_back(')');
      }
      return;
    }
    case NodeKind::kNot: {
      out->append("not ");
      for (const auto& c : n.children) {
        bool parens = c->kind == NodeKind::kAnd || c->kind == NodeKind::kOr;
        if (parens) out->push_back('(');
        Print(*c, variable, out);
        if (parens) out->push_back(')');
      }
      return;
    }
    case NodeKind::kCompare:
      PrintOperand(n, variable, out);
      out->push_back(' ');
      out->append(ToString(n.op));
      out->push_back(' ');
      if (!n.values.empty()) out->append(ToString(n.values[0]));
      return;
    case NodeKind::kIn: {
      PrintOperand(n, variable, out);
      out->append(" in (");
      for (size_t k = 0; k < n.values.size(); ++k) {
        if (k) out->append(", ");
        out->append(ToString(n.values[k]));
      }
      out->push_back(')');
      return;
    }
    case NodeKind::kStartsWith:
    case NodeKind::kEndsWith:
      out->append(n.kind == NodeKind::kStartsWith ? "startswith(" : "endswith(");
      PrintOperand(n, variable, out);
      out->append(", ");
      if (!n.values.empty()) out->append(ToString(n.values[0]));
      out->push_back(')');
      return;
    case NodeKind::kAny:
    case NodeKind::kAll:
      PrintOperand(n, variable, out);
      out->append(n.kind == NodeKind::kAny ? "/any(" : "/all(");
      if (!n.children.empty()) {
        out->append(n.variable);
        out->append(": ");
        Print(*n.children[0], n.variable, out);
      }
      out->push_back(')');
      return;
    case NodeKind::kCount:
      PrintOperand(n, variable, out);
      out->append("/$count ");
      out->append(ToString(n.op));
      out->push_back(' ');
      if (!n.values.empty()) out->append(ToString(n.values[0]));
      return;
  }
}

}  // namespace

Result<std::unique_ptr<Node>> ParseFilter(std::string_view text) {
  if (text.size() > kMaxFilterLength) {
    return FilterError("the filter is " + std::to_string(text.size()) +
                       " characters long; the limit is " + std::to_string(kMaxFilterLength));
  }
  std::vector<Token> tokens;
  MERIDIAN_RETURN_IF_ERROR(Tokenize(text, &tokens));
  if (tokens.size() == 1) return FilterError("the filter is empty");
  return Parser(std::move(tokens)).Run();
}

Status Validate(const Node& root, const Schema& schema) {
  return Validator(schema).Check(root, nullptr);
}

void CanonicalizePaths(Node* root, const std::function<std::string(std::string_view)>& canonical) {
  Canonicalize(root, canonical, nullptr);
}

std::string ToString(const Node& node) {
  std::string out;
  Print(node, "", &out);
  return out;
}

std::string ToString(const Value& v) {
  switch (v.kind) {
    case ValueKind::kNull:
      return "null";
    case ValueKind::kBool:
      return v.b ? "true" : "false";
    case ValueKind::kInt:
      return std::to_string(v.i);
    case ValueKind::kDouble: {
      char buf[64];
      auto r = std::to_chars(buf, buf + sizeof(buf), v.d);
      std::string s(buf, r.ptr);
      if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
      return s;
    }
    case ValueKind::kString: {
      std::string s = "'";
      for (char c : v.text) {
        if (c == '\'') s.push_back('\'');
        s.push_back(c);
      }
      s.push_back('\'');
      return s;
    }
    case ValueKind::kGuid:
    case ValueKind::kDateTime:
      return v.text;
  }
  return "null";
}

std::string_view ToString(CompareOp op) {
  switch (op) {
    case CompareOp::kEq:
      return "eq";
    case CompareOp::kNe:
      return "ne";
    case CompareOp::kGt:
      return "gt";
    case CompareOp::kGe:
      return "ge";
    case CompareOp::kLt:
      return "lt";
    case CompareOp::kLe:
      return "le";
  }
  return "eq";
}

std::optional<int64_t> DateTimeMillis(std::string_view text) {
  auto t = internal::ParseDateTime(text);
  if (!t) return std::nullopt;
  return t->seconds * 1000 + t->nanos / 1'000'000;
}

}  // namespace meridian::odata
