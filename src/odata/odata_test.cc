#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/encoding.h"
#include "odata/eval.h"
#include "odata/filter.h"
#include "odata/plan.h"
#include "odata/query.h"

namespace meridian::odata {
namespace {

namespace json = boost::json;

// ------------------------------------------------------------------------------------ helpers

// A fully parenthesised dump of a tree, so that tests see its structure.
std::string S(const Node& n) {
  auto operand = [](const Node& o) {
    if (!o.on_element) return o.path;
    return o.path.empty() ? std::string("$it") : "$it/" + o.path;
  };
  std::string out;
  switch (n.kind) {
    case NodeKind::kAnd:
    case NodeKind::kOr:
      out = n.kind == NodeKind::kAnd ? "(and" : "(or";
      for (const auto& c : n.children) out += " " + S(*c);
      return out + ")";
    case NodeKind::kNot:
      return "(not " + S(*n.children[0]) + ")";
    case NodeKind::kCompare:
      return "(" + std::string(ToString(n.op)) + " " + operand(n) + " " + ToString(n.values[0]) +
             ")";
    case NodeKind::kIn:
      out = "(in " + operand(n);
      for (const Value& v : n.values) out += " " + ToString(v);
      return out + ")";
    case NodeKind::kStartsWith:
    case NodeKind::kEndsWith:
      return std::string(n.kind == NodeKind::kStartsWith ? "(startswith " : "(endswith ") +
             operand(n) + " " + ToString(n.values[0]) + ")";
    case NodeKind::kAny:
    case NodeKind::kAll:
      out = std::string(n.kind == NodeKind::kAny ? "(any " : "(all ") + n.path;
      if (!n.children.empty()) out += " " + n.variable + " " + S(*n.children[0]);
      return out + ")";
    case NodeKind::kCount:
      return "(count " + n.path + " " + std::string(ToString(n.op)) + " " + ToString(n.values[0]) +
             ")";
  }
  return "?";
}

// The structure of a parse, or "ERR <message>".
std::string SP(std::string_view text) {
  auto r = ParseFilter(text);
  if (!r.ok()) return "ERR " + r.status().message();
  return S(**r);
}

std::string ErrorOf(std::string_view text) {
  auto r = ParseFilter(text);
  if (r.ok()) return "parsed: " + ToString(**r);
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(r.status().graph_code(), "Request_BadRequest");
  return r.status().message();
}

Value LiteralOf(std::string_view literal) {
  auto r = ParseFilter("p eq " + std::string(literal));
  EXPECT_TRUE(r.ok()) << literal << ": " << r.status().message();
  if (!r.ok()) return Value::Null();
  return (*r)->values.at(0);
}

std::optional<PropertyType> TestSchema(std::string_view path) {
  static const std::vector<std::pair<std::string_view, PropertyType>> kProps = {
      {"id", PropertyType::kString},
      {"displayName", PropertyType::kString},
      {"mail", PropertyType::kString},
      {"jobTitle", PropertyType::kString},
      {"accountEnabled", PropertyType::kBool},
      {"createdDateTime", PropertyType::kDateTime},
      {"age", PropertyType::kInt},
      {"skuGuid", PropertyType::kGuid},
      {"proxyAddresses", PropertyType::kStringCollection},
      {"assignedLicenses", PropertyType::kObjectCollection},
      {"assignedLicenses/skuId", PropertyType::kGuid},
      {"assignedLicenses/name", PropertyType::kString},
      {"assignedLicenses/disabledPlans", PropertyType::kStringCollection},
      {"onPremisesExtensionAttributes", PropertyType::kObject},
      {"onPremisesExtensionAttributes/extensionAttribute1", PropertyType::kString},
  };
  for (const auto& [name, type] : kProps) {
    if (EqualsIgnoreCase(name, path)) return type;
  }
  return std::nullopt;
}

std::string Canonical(std::string_view path) {
  static const char* kNames[] = {"id",
                                 "displayName",
                                 "mail",
                                 "jobTitle",
                                 "accountEnabled",
                                 "createdDateTime",
                                 "age",
                                 "skuGuid",
                                 "proxyAddresses",
                                 "assignedLicenses",
                                 "assignedLicenses/skuId",
                                 "assignedLicenses/name",
                                 "onPremisesExtensionAttributes",
                                 "onPremisesExtensionAttributes/extensionAttribute1"};
  for (const char* n : kNames) {
    if (EqualsIgnoreCase(n, path)) return n;
  }
  return std::string(path);
}

std::string ValidateError(std::string_view text) {
  auto r = ParseFilter(text);
  if (!r.ok()) return "parse error: " + r.status().message();
  Status st = Validate(**r, TestSchema);
  if (st.ok()) return "ok";
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_EQ(st.graph_code(), "Request_BadRequest");
  return st.message();
}

// ------------------------------------------------------------------------------------ parsing

TEST(ParseFilter, Comparisons) {
  EXPECT_EQ(SP("displayName eq 'Ann'"), "(eq displayName 'Ann')");
  EXPECT_EQ(SP("a ne 1"), "(ne a 1)");
  EXPECT_EQ(SP("a gt 1"), "(gt a 1)");
  EXPECT_EQ(SP("a ge 1"), "(ge a 1)");
  EXPECT_EQ(SP("a lt 1"), "(lt a 1)");
  EXPECT_EQ(SP("a le 1"), "(le a 1)");
  EXPECT_EQ(SP("onPremisesExtensionAttributes/extensionAttribute1 eq 'x'"),
            "(eq onPremisesExtensionAttributes/extensionAttribute1 'x')");
  EXPECT_EQ(SP("  a\teq\n'x'  "), "(eq a 'x')");
  EXPECT_EQ(SP("a EQ 'x'"), "(eq a 'x')");
}

TEST(ParseFilter, Literals) {
  Value s = LiteralOf("'it''s'");
  EXPECT_EQ(s.kind, ValueKind::kString);
  EXPECT_EQ(s.text, "it's");
  EXPECT_EQ(LiteralOf("''").text, "");
  EXPECT_EQ(LiteralOf("''''").text, "'");
  EXPECT_EQ(LiteralOf("'a b,c)'").text, "a b,c)");

  EXPECT_EQ(LiteralOf("true").kind, ValueKind::kBool);
  EXPECT_TRUE(LiteralOf("TRUE").b);
  EXPECT_FALSE(LiteralOf("false").b);
  EXPECT_EQ(LiteralOf("null").kind, ValueKind::kNull);
  EXPECT_EQ(LiteralOf("Null").kind, ValueKind::kNull);

  EXPECT_EQ(LiteralOf("42").kind, ValueKind::kInt);
  EXPECT_EQ(LiteralOf("42").i, 42);
  EXPECT_EQ(LiteralOf("-7").i, -7);
  EXPECT_EQ(LiteralOf("9223372036854775807").i, INT64_MAX);
  EXPECT_EQ(LiteralOf("-9223372036854775808").i, INT64_MIN);
  EXPECT_EQ(LiteralOf("1.5").kind, ValueKind::kDouble);
  EXPECT_DOUBLE_EQ(LiteralOf("1.5").d, 1.5);
  EXPECT_DOUBLE_EQ(LiteralOf("-2.5e3").d, -2500);
  EXPECT_DOUBLE_EQ(LiteralOf("1E+2").d, 100);

  Value g = LiteralOf("6ea91a8d-e32e-41a1-b7bd-d2d185eed0e0");
  EXPECT_EQ(g.kind, ValueKind::kGuid);
  EXPECT_EQ(g.text, "6ea91a8d-e32e-41a1-b7bd-d2d185eed0e0");
  Value g2 = LiteralOf("D2D185EE-e32e-41a1-b7bd-d2d185eed0e0");  // starts with a letter
  EXPECT_EQ(g2.kind, ValueKind::kGuid);
  EXPECT_EQ(g2.text, "D2D185EE-e32e-41a1-b7bd-d2d185eed0e0");

  for (const char* d :
       {"2024-01-01T00:00:00Z", "2024-01-01T00:00Z", "2024-02-29T23:59:59.1234567Z",
        "2024-01-01T01:00:00+01:00", "2023-12-31T20:00:00-04:30", "2024-01-01t00:00:00z"}) {
    Value v = LiteralOf(d);
    EXPECT_EQ(v.kind, ValueKind::kDateTime) << d;
    EXPECT_EQ(v.text, d);
  }
}

TEST(ParseFilter, BadLiterals) {
  EXPECT_EQ(ErrorOf("a eq 'abc"),
            "Invalid filter clause: unterminated string literal starting at position 5");
  EXPECT_EQ(ErrorOf("a eq 12abc"),
            "Invalid filter clause: malformed number at position 5 ('12abc')");
  EXPECT_EQ(ErrorOf("a eq 1."), "Invalid filter clause: malformed number at position 5 ('1.')");
  EXPECT_EQ(ErrorOf("a eq 1e"), "Invalid filter clause: malformed number at position 5 ('1e')");
  EXPECT_EQ(ErrorOf("a eq 1.2.3"),
            "Invalid filter clause: malformed number at position 5 ('1.2.3')");
  EXPECT_EQ(ErrorOf("a eq 9223372036854775808"),
            "Invalid filter clause: malformed number at position 5 ('9223372036854775808')");
  EXPECT_EQ(ErrorOf("a eq 1e999"),
            "Invalid filter clause: malformed number at position 5 ('1e999')");
  EXPECT_EQ(ErrorOf("a eq 2023-02-29T00:00:00Z"),
            "Invalid filter clause: malformed DateTimeOffset literal at position 5 "
            "('2023-02-29T00:00:00Z'); expected e.g. 2024-01-01T00:00:00Z");
  EXPECT_NE(ErrorOf("a eq 2024-13-01T00:00:00Z").find("malformed DateTimeOffset"),
            std::string::npos);
  EXPECT_NE(ErrorOf("a eq 2024-01-01").find("malformed DateTimeOffset"), std::string::npos);
  EXPECT_NE(ErrorOf("a eq 2024-01-01T25:00:00Z").find("malformed DateTimeOffset"),
            std::string::npos);
  EXPECT_NE(ErrorOf("a eq 2024-01-01T00:00:00").find("malformed DateTimeOffset"),
            std::string::npos);
  // A GUID with a bad digit is not a GUID: it lexes as a number then garbage.
  EXPECT_NE(ErrorOf("a eq 6ea91a8d-e32e-41a1-b7bd-d2d185eed0eg").find("position 5"),
            std::string::npos);
  EXPECT_EQ(ErrorOf("a eq x"),
            "Invalid filter clause: syntax error at position 5 ('x'): expected a literal ('text', "
            "number, true, false, null, GUID, date)");
  EXPECT_EQ(ErrorOf("a eq"),
            "Invalid filter clause: syntax error at position 4 (end of input): expected a literal "
            "('text', number, true, false, null, GUID, date)");
}

TEST(ParseFilter, Functions) {
  EXPECT_EQ(SP("startswith(displayName,'Jo')"), "(startswith displayName 'Jo')");
  EXPECT_EQ(SP("StartsWith( displayName , 'Jo' )"), "(startswith displayName 'Jo')");
  EXPECT_EQ(SP("endswith(mail,'@contoso.com')"), "(endswith mail '@contoso.com')");
  EXPECT_EQ(SP("startswith(a/b,'x')"), "(startswith a/b 'x')");
  EXPECT_EQ(ErrorOf("contains(displayName,'x')"),
            "Invalid filter clause: unknown function 'contains' at position 0; supported: "
            "startswith, endswith, any, all");
  EXPECT_EQ(ErrorOf("startswith(displayName,1)"),
            "Invalid filter clause: syntax error at position 23 ('1'): expected a quoted string");
  EXPECT_NE(ErrorOf("startswith(displayName)").find("expected ','"), std::string::npos);
  EXPECT_NE(ErrorOf("startswith(displayName,'a'").find("expected ')'"), std::string::npos);
}

TEST(ParseFilter, In) {
  EXPECT_EQ(SP("id in ('a','b', 'c')"), "(in id 'a' 'b' 'c')");
  EXPECT_EQ(SP("id IN ('a')"), "(in id 'a')");
  EXPECT_EQ(SP("age in (1, 2.5, null)"), "(in age 1 2.5 null)");
  EXPECT_NE(ErrorOf("id in ()").find("expected a literal"), std::string::npos);
  EXPECT_NE(ErrorOf("id in ('a',)").find("expected a literal"), std::string::npos);
  EXPECT_NE(ErrorOf("id in 'a'").find("expected '(' after 'in'"), std::string::npos);
  EXPECT_NE(ErrorOf("id in ('a' 'b')").find("expected ',' or ')'"), std::string::npos);
}

TEST(ParseFilter, BooleanOperatorsAndPrecedence) {
  EXPECT_EQ(SP("a eq 1 and b eq 2"), "(and (eq a 1) (eq b 2))");
  EXPECT_EQ(SP("a eq 1 or b eq 2"), "(or (eq a 1) (eq b 2))");
  // and binds tighter than or.
  EXPECT_EQ(SP("a eq 1 or b eq 2 and c eq 3"), "(or (eq a 1) (and (eq b 2) (eq c 3)))");
  EXPECT_EQ(SP("a eq 1 and b eq 2 or c eq 3"), "(or (and (eq a 1) (eq b 2)) (eq c 3))");
  EXPECT_EQ(SP("(a eq 1 or b eq 2) and c eq 3"), "(and (or (eq a 1) (eq b 2)) (eq c 3))");
  // not binds tighter than and/or, and applies to a whole comparison.
  EXPECT_EQ(SP("not a eq 1 and b eq 2"), "(and (not (eq a 1)) (eq b 2))");
  EXPECT_EQ(SP("not (a eq 1 and b eq 2)"), "(not (and (eq a 1) (eq b 2)))");
  EXPECT_EQ(SP("not(a eq 1)"), "(not (eq a 1))");
  EXPECT_EQ(SP("NOT startswith(a,'x')"), "(not (startswith a 'x'))");
  EXPECT_EQ(SP("not not a eq 1"), "(not (not (eq a 1)))");
  // Chains flatten, also through parentheses.
  EXPECT_EQ(SP("a eq 1 and b eq 2 and c eq 3"), "(and (eq a 1) (eq b 2) (eq c 3))");
  EXPECT_EQ(SP("(a eq 1 and b eq 2) and (c eq 3 and d eq 4)"),
            "(and (eq a 1) (eq b 2) (eq c 3) (eq d 4))");
  EXPECT_EQ(SP("a eq 1 or (b eq 2 or c eq 3)"), "(or (eq a 1) (eq b 2) (eq c 3))");
  EXPECT_EQ(SP("((a eq 1))"), "(eq a 1)");
  EXPECT_EQ(SP("a eq 1 AnD b eq 2 OR c eq 3"), "(or (and (eq a 1) (eq b 2)) (eq c 3))");
}

TEST(ParseFilter, Lambdas) {
  EXPECT_EQ(SP("proxyAddresses/any(x:x eq 'smtp:a@b.c')"),
            "(any proxyAddresses x (eq $it 'smtp:a@b.c'))");
  EXPECT_EQ(SP("proxyAddresses/any(x:startswith(x,'smtp:'))"),
            "(any proxyAddresses x (startswith $it 'smtp:'))");
  EXPECT_EQ(SP("assignedLicenses/any(l:l/skuId eq 6ea91a8d-e32e-41a1-b7bd-d2d185eed0e0)"),
            "(any assignedLicenses l (eq $it/skuId 6ea91a8d-e32e-41a1-b7bd-d2d185eed0e0))");
  EXPECT_EQ(SP("tags/any(x: x eq 'a' or x eq 'b')"), "(any tags x (or (eq $it 'a') (eq $it 'b')))");
  EXPECT_EQ(SP("tags/ANY(x: x in ('a','b'))"), "(any tags x (in $it 'a' 'b'))");
  EXPECT_EQ(SP("tags/all(x: x ne 'a')"), "(all tags x (ne $it 'a'))");
  EXPECT_EQ(SP("tags/any()"), "(any tags)");
  EXPECT_EQ(SP("a/b/any(x: x/c/d eq 1)"), "(any a/b x (eq $it/c/d 1))");
  EXPECT_EQ(SP("not tags/any(x: x eq 'a') and b eq 1"),
            "(and (not (any tags x (eq $it 'a'))) (eq b 1))");
  EXPECT_EQ(SP("tags/$count eq 0"), "(count tags eq 0)");
  EXPECT_EQ(SP("tags/$count gt 2"), "(count tags gt 2)");

  EXPECT_NE(ErrorOf("tags/any(x: y eq 'a')").find("through its variable 'x'"), std::string::npos);
  EXPECT_NE(ErrorOf("tags/any(x: x/t/any(y: y eq 1))").find("cannot be nested"), std::string::npos);
  EXPECT_NE(ErrorOf("tags/all()").find("all() needs a lambda"), std::string::npos);
  EXPECT_NE(ErrorOf("tags/any(x x eq 'a')").find("expected ':'"), std::string::npos);
  EXPECT_NE(ErrorOf("tags/any(x: x eq 'a'").find("expected ')' to close the lambda"),
            std::string::npos);
  EXPECT_NE(ErrorOf("tags/$count eq 'a'").find("expected an integer"), std::string::npos);
  EXPECT_NE(ErrorOf("any(x: x eq 1)").find("follow a collection"), std::string::npos);
  EXPECT_NE(ErrorOf("tags/any(x: x/$count eq 1)").find("$count is not supported"),
            std::string::npos);
}

TEST(ParseFilter, SyntaxErrors) {
  EXPECT_EQ(ErrorOf("name eq 'abcd' xyz"),
            "Invalid filter clause: syntax error at position 15 ('xyz'): expected 'and', 'or' or "
            "the end of the filter");
  EXPECT_EQ(ErrorOf("displayName eq 'a' and xyz"),
            "Invalid filter clause: syntax error at position 26 (end of input): expected eq, ne, "
            "gt, ge, lt, le or in");
  EXPECT_EQ(ErrorOf("(a eq 1"),
            "Invalid filter clause: syntax error at position 7 (end of input): expected ')' or "
            "'and'/'or'");
  EXPECT_EQ(ErrorOf("a eq 1)"),
            "Invalid filter clause: syntax error at position 6 (')'): unbalanced ')'");
  EXPECT_EQ(ErrorOf("a eq 1 and"),
            "Invalid filter clause: syntax error at position 10 (end of input): expected a "
            "property, a function or '('");
  EXPECT_EQ(ErrorOf(""), "Invalid filter clause: the filter is empty");
  EXPECT_EQ(ErrorOf("   "), "Invalid filter clause: the filter is empty");
  EXPECT_EQ(ErrorOf("a eq 1 # b"),
            "Invalid filter clause: syntax error at position 7 ('#'): unexpected character");
  EXPECT_EQ(ErrorOf("a eq '\x01'x"),
            "Invalid filter clause: syntax error at position 8 ('x'): expected 'and', 'or' or the "
            "end of the filter");
  EXPECT_EQ(ErrorOf("a\x01 eq 1"),
            "Invalid filter clause: syntax error at position 1 ('\\x01'): unexpected character");
  EXPECT_EQ(ErrorOf("a/ eq 1"),
            "Invalid filter clause: syntax error at position 3 ('eq'): expected a property after "
            "'/'");
  EXPECT_NE(ErrorOf("a /b eq 1").find("position 2"), std::string::npos);
  EXPECT_NE(ErrorOf("tags/ any(x: x eq 1)").find("position 6"), std::string::npos);
  EXPECT_NE(ErrorOf("$filter eq 1").find("expected a property"), std::string::npos);
  EXPECT_NE(ErrorOf("a eq 1 and and b eq 2").find("position 11"), std::string::npos);
  EXPECT_NE(ErrorOf("()").find("position 1"), std::string::npos);
  EXPECT_NE(ErrorOf("a b").find("position 2"), std::string::npos);
  EXPECT_NE(ErrorOf("'a' eq a").find("position 0"), std::string::npos);
  EXPECT_NE(ErrorOf("a eq 1 or").find("end of input"), std::string::npos);
  EXPECT_NE(ErrorOf("not").find("end of input"), std::string::npos);
}

TEST(ParseFilter, RoundTripOfPrinter) {
  for (const char* text : {
           "displayName eq 'it''s' and (a eq 1 or b eq 2.5) or not c ne null",
           "not (a eq 1 or b eq 2)",
           "not not a eq 1",
           "tags/any(x: x eq 'a' or startswith(x, 'b')) and tags/$count ge 2",
           "assignedLicenses/any(l: l/skuId eq 6ea91a8d-e32e-41a1-b7bd-d2d185eed0e0)",
           "createdDateTime ge 2024-01-01T00:00:00+01:00 and x in (1, -2, 3.0, 'q', true)",
           "a eq 1e+20 and b eq 0.1 and c eq -0.0",
           "tags/any()",
       }) {
    auto a = ParseFilter(text);
    ASSERT_TRUE(a.ok()) << text << ": " << a.status().message();
    std::string printed = ToString(**a);
    auto b = ParseFilter(printed);
    ASSERT_TRUE(b.ok()) << printed << ": " << b.status().message();
    EXPECT_EQ(S(**a), S(**b)) << printed;
    EXPECT_EQ(printed, ToString(**b));
  }
  EXPECT_EQ(ToString(**ParseFilter("(a eq 1 or b eq 2) and NOT(c eq 'x')")),
            "(a eq 1 or b eq 2) and not c eq 'x'");
  EXPECT_EQ(ToString(**ParseFilter("a eq 1.0")), "a eq 1.0");
  EXPECT_EQ(ToString(**ParseFilter("T/ANY(v:v/s eq 'a')")), "T/any(v: v/s eq 'a')");
}

// ------------------------------------------------------------------------------------ validation

TEST(Validate, AcceptsWellTypedFilters) {
  for (const char* text : {
           "displayName eq 'a' and accountEnabled eq true",
           "startswith(displayName,'a') or endswith(mail,'@x.com')",
           "id eq 6ea91a8d-e32e-41a1-b7bd-d2d185eed0e0",
           "skuGuid eq 6ea91a8d-e32e-41a1-b7bd-d2d185eed0e0",
           "skuGuid eq '6ea91a8d-e32e-41a1-b7bd-d2d185eed0e0'",
           "createdDateTime ge 2024-01-01T00:00:00Z",
           "age gt 3 and age lt 4.5",
           "mail eq null and createdDateTime ne null",
           "proxyAddresses/any(x: startswith(x, 'smtp:'))",
           "assignedLicenses/any(l: l/skuId eq 6ea91a8d-e32e-41a1-b7bd-d2d185eed0e0)",
           "assignedLicenses/all(l: l/name ne 'x')",
           "proxyAddresses/$count eq 0",
           "onPremisesExtensionAttributes/extensionAttribute1 eq 'x'",
           "DISPLAYNAME eq 'x'",
           "displayName in ('a', 'b')",
           "assignedLicenses/any()",
       }) {
    EXPECT_EQ(ValidateError(text), "ok") << text;
  }
}

TEST(Validate, RejectsUnknownPropertiesAndTypeMismatches) {
  EXPECT_EQ(ValidateError("foo eq 'a'"), "Invalid filter clause: property 'foo' does not exist");
  EXPECT_EQ(ValidateError("displayName eq 'a' or foo/bar eq 1"),
            "Invalid filter clause: property 'foo/bar' does not exist");
  EXPECT_EQ(ValidateError("displayName eq 1"),
            "Invalid filter clause: the number 1 cannot be compared with property 'displayName' "
            "of type Edm.String");
  EXPECT_EQ(ValidateError("age eq 'x'"),
            "Invalid filter clause: the string 'x' cannot be compared with property 'age' of "
            "type Edm.Int64");
  EXPECT_EQ(ValidateError("accountEnabled eq 'true'"),
            "Invalid filter clause: the string 'true' cannot be compared with property "
            "'accountEnabled' of type Edm.Boolean");
  EXPECT_EQ(ValidateError("accountEnabled gt false"),
            "Invalid filter clause: property 'accountEnabled' is a boolean; compare it with eq "
            "or ne");
  EXPECT_EQ(ValidateError("createdDateTime gt '2024-01-01'"),
            "Invalid filter clause: the string '2024-01-01' cannot be compared with property "
            "'createdDateTime' of type Edm.DateTimeOffset");
  EXPECT_EQ(ValidateError("skuGuid eq 'nope'"),
            "Invalid filter clause: the string 'nope' cannot be compared with property 'skuGuid' "
            "of type Edm.Guid");
  EXPECT_EQ(ValidateError("displayName gt null"),
            "Invalid filter clause: null can only be compared with eq or ne");
  EXPECT_EQ(ValidateError("displayName in ('a', 2)"),
            "Invalid filter clause: the number 2 cannot be compared with property 'displayName' "
            "of type Edm.String");
  EXPECT_EQ(ValidateError("startswith(age,'1')"),
            "Invalid filter clause: startswith needs a string property; 'age' is Edm.Int64");
  EXPECT_EQ(ValidateError("displayName/any(x: x eq 'a')"),
            "Invalid filter clause: any() needs a collection; 'displayName' is Edm.String");
  EXPECT_EQ(ValidateError("displayName/$count eq 1"),
            "Invalid filter clause: $count needs a collection; 'displayName' is Edm.String");
  EXPECT_EQ(ValidateError("proxyAddresses eq 'a'"),
            "Invalid filter clause: property 'proxyAddresses' is Collection(Edm.String); filter "
            "it with any() or all()");
  EXPECT_EQ(ValidateError("onPremisesExtensionAttributes eq 'a'"),
            "Invalid filter clause: property 'onPremisesExtensionAttributes' is a complex value; "
            "compare one of its properties");
  EXPECT_EQ(ValidateError("proxyAddresses/any(x: x/foo eq 'a')"),
            "Invalid filter clause: the elements of 'proxyAddresses' are strings; they have no "
            "'foo'");
  EXPECT_EQ(ValidateError("assignedLicenses/any(x: x eq 'a')"),
            "Invalid filter clause: the elements of 'assignedLicenses' are complex values; "
            "compare one of their properties (x/name)");
  EXPECT_EQ(ValidateError("assignedLicenses/any(x: x/foo eq 'a')"),
            "Invalid filter clause: property 'assignedLicenses/foo' does not exist");
  EXPECT_EQ(ValidateError("proxyAddresses/any(x: x eq 1)"),
            "Invalid filter clause: the number 1 cannot be compared with property "
            "'proxyAddresses' of type Edm.String");
}

TEST(CanonicalizePaths, RewritesToSchemaSpelling) {
  auto r = ParseFilter(
      "DISPLAYNAME eq 'a' and assignedlicenses/any(l: l/SKUID eq "
      "6ea91a8d-e32e-41a1-b7bd-d2d185eed0e0) and proxyaddresses/any(x: x eq 'p')");
  ASSERT_TRUE(r.ok());
  CanonicalizePaths(r->get(), Canonical);
  EXPECT_EQ(ToString(**r),
            "displayName eq 'a' and assignedLicenses/any(l: l/skuId eq "
            "6ea91a8d-e32e-41a1-b7bd-d2d185eed0e0) and proxyAddresses/any(x: x eq 'p')");
}

// ------------------------------------------------------------------------------------ evaluation

json::object TestUser() {
  return json::parse(R"({
    "id": "6EA91A8D-e32e-41a1-b7bd-d2d185eed0e0",
    "displayName": "Ann Smith",
    "mail": null,
    "jobTitle": "Engineer",
    "accountEnabled": true,
    "createdDateTime": "2024-03-01T10:00:00Z",
    "age": 41,
    "height": 1.75,
    "big": 18446744073709551615,
    "proxyAddresses": ["SMTP:ann@contoso.com", "smtp:a.smith@contoso.com"],
    "emptyList": [],
    "assignedLicenses": [
      {"skuId": "c7df2760-2c81-4ef7-b578-5b5392b571df", "disabledPlans": []},
      {"skuId": "3b555118-da6a-4418-894f-7df1e2096870", "name": "E5"}
    ],
    "onPremisesExtensionAttributes": {"extensionAttribute1": "Blue", "extensionAttribute2": null}
  })")
      .as_object();
}

bool M(std::string_view text, const json::object& obj = TestUser()) {
  auto r = ParseFilter(text);
  EXPECT_TRUE(r.ok()) << text << ": " << r.status().message();
  return r.ok() && Matches(**r, obj);
}

TEST(Matches, StringsFoldCase) {
  EXPECT_TRUE(M("displayName eq 'ann smith'"));
  EXPECT_TRUE(M("displayName eq 'ANN SMITH'"));
  EXPECT_FALSE(M("displayName eq 'Ann'"));
  EXPECT_TRUE(M("displayName ne 'Ann'"));
  EXPECT_FALSE(M("displayName ne 'ann SMITH'"));
  EXPECT_TRUE(M("startswith(displayName,'aNN')"));
  EXPECT_FALSE(M("startswith(displayName,'Smith')"));
  EXPECT_TRUE(M("endswith(displayName,'SMITH')"));
  EXPECT_TRUE(M("startswith(displayName,'')"));
  EXPECT_FALSE(M("startswith(displayName,'Ann Smith and more')"));
  EXPECT_TRUE(M("displayName in ('x', 'ANN smith')"));
  EXPECT_FALSE(M("displayName in ('x', 'y')"));
  EXPECT_TRUE(M("displayName gt 'ALICE'"));  // "ann smith" > "alice"
  EXPECT_TRUE(M("displayName lt 'b'"));
  EXPECT_TRUE(M("displayName ge 'Ann Smith' and displayName le 'ann smith'"));
  EXPECT_FALSE(M("displayName gt 'ann smith'"));
  EXPECT_TRUE(M("id eq 6ea91a8d-E32E-41a1-b7bd-d2d185eed0e0"));
  EXPECT_TRUE(M("DisplayName eq 'ann smith'"));  // property names match case-insensitively
  EXPECT_TRUE(M("onPremisesExtensionAttributes/extensionAttribute1 eq 'blue'"));
  EXPECT_FALSE(M("startswith(age,'4')"));
}

TEST(Matches, Nulls) {
  EXPECT_TRUE(M("mail eq null"));
  EXPECT_TRUE(M("missing eq null"));
  EXPECT_TRUE(M("onPremisesExtensionAttributes/extensionAttribute2 eq null"));
  EXPECT_TRUE(M("onPremisesExtensionAttributes/nothing/deeper eq null"));
  EXPECT_TRUE(M("displayName/deeper eq null"));  // a path through a string reads null
  EXPECT_FALSE(M("displayName eq null"));
  EXPECT_TRUE(M("displayName ne null"));
  EXPECT_FALSE(M("mail ne null"));
  EXPECT_FALSE(M("mail eq 'x'"));
  EXPECT_TRUE(M("mail ne 'x'"));
  EXPECT_FALSE(M("mail gt 'a'"));
  EXPECT_FALSE(M("mail lt 'a'"));
  EXPECT_FALSE(M("startswith(mail,'')"));
  EXPECT_TRUE(M("mail in ('a', null)"));
}

TEST(Matches, NumbersBoolsDates) {
  EXPECT_TRUE(M("age eq 41"));
  EXPECT_TRUE(M("age eq 41.0"));
  EXPECT_TRUE(M("age gt 40 and age lt 42"));
  EXPECT_TRUE(M("age ge 41 and age le 41"));
  EXPECT_FALSE(M("age gt 41"));
  EXPECT_TRUE(M("height gt 1 and height lt 2"));
  EXPECT_TRUE(M("height eq 1.75"));
  EXPECT_TRUE(M("big gt 9223372036854775807"));
  EXPECT_FALSE(M("age eq '41'"));
  EXPECT_TRUE(M("age ne '41'"));
  EXPECT_TRUE(M("accountEnabled eq true"));
  EXPECT_FALSE(M("accountEnabled eq false"));
  EXPECT_TRUE(M("accountEnabled ne false"));
  EXPECT_FALSE(M("accountEnabled eq 'true'"));
  EXPECT_TRUE(M("createdDateTime eq 2024-03-01T10:00:00Z"));
  EXPECT_TRUE(M("createdDateTime eq 2024-03-01T11:00:00+01:00"));
  EXPECT_TRUE(M("createdDateTime eq 2024-03-01T10:00:00.000Z"));
  EXPECT_TRUE(M("createdDateTime gt 2024-03-01T09:59:59.999Z"));
  EXPECT_TRUE(M("createdDateTime lt 2024-03-01T10:00:00.001Z"));
  EXPECT_TRUE(
      M("createdDateTime ge 2024-01-01T00:00:00Z and createdDateTime lt 2025-01-01T00:00Z"));
  EXPECT_FALSE(M("createdDateTime lt 2024-03-01T10:00:00Z"));
  EXPECT_FALSE(M("displayName eq 2024-03-01T10:00:00Z"));  // not a date: unequal
  EXPECT_TRUE(M("displayName ne 2024-03-01T10:00:00Z"));
}

TEST(Matches, BooleanOperators) {
  EXPECT_TRUE(M("age eq 41 and accountEnabled eq true"));
  EXPECT_FALSE(M("age eq 41 and accountEnabled eq false"));
  EXPECT_TRUE(M("age eq 1 or accountEnabled eq true"));
  EXPECT_FALSE(M("age eq 1 or accountEnabled eq false"));
  EXPECT_TRUE(M("not age eq 1"));
  EXPECT_FALSE(M("not (age eq 41 or x eq 1)"));
  EXPECT_TRUE(M("not not age eq 41"));
  EXPECT_TRUE(M("age eq 1 or age eq 2 and x eq 3 or age eq 41"));
}

TEST(Matches, Lambdas) {
  EXPECT_TRUE(M("proxyAddresses/any(x: x eq 'smtp:ann@contoso.com')"));
  EXPECT_FALSE(M("proxyAddresses/any(x: x eq 'smtp:bob@contoso.com')"));
  EXPECT_TRUE(M("proxyAddresses/any(x: startswith(x, 'SMTP:a.'))"));
  EXPECT_TRUE(M("proxyAddresses/any(x: x eq 'q' or endswith(x, 'contoso.com'))"));
  EXPECT_TRUE(M("proxyAddresses/any(x: x in ('q', 'smtp:a.smith@contoso.com'))"));
  EXPECT_TRUE(M("proxyAddresses/all(x: endswith(x, '@contoso.com'))"));
  EXPECT_FALSE(M("proxyAddresses/all(x: startswith(x, 'SMTP:ann'))"));
  EXPECT_TRUE(M("proxyAddresses/any()"));
  EXPECT_FALSE(M("emptyList/any()"));
  EXPECT_FALSE(M("emptyList/any(x: x eq 'a')"));
  EXPECT_TRUE(M("emptyList/all(x: x eq 'a')"));
  EXPECT_FALSE(M("missing/any(x: x eq 'a')"));
  EXPECT_TRUE(M("missing/all(x: x eq 'a')"));
  EXPECT_FALSE(M("displayName/any(x: x eq 'a')"));
  EXPECT_TRUE(M("assignedLicenses/any(l: l/skuId eq 3B555118-da6a-4418-894f-7df1e2096870)"));
  EXPECT_TRUE(M("assignedLicenses/any(l: l/name eq 'e5' and l/skuId ne null)"));
  // Both conditions must hold on the same element.
  EXPECT_FALSE(
      M("assignedLicenses/any(l: l/name eq 'E5' and "
        "l/skuId eq c7df2760-2c81-4ef7-b578-5b5392b571df)"));
  EXPECT_TRUE(M("assignedLicenses/any(l: l/name eq null)"));
  EXPECT_FALSE(M("assignedLicenses/all(l: l/name eq 'E5')"));
  EXPECT_TRUE(M("proxyAddresses/$count eq 2"));
  EXPECT_TRUE(M("proxyAddresses/$count gt 1"));
  EXPECT_TRUE(M("emptyList/$count eq 0"));
  EXPECT_TRUE(M("missing/$count eq 0"));
  EXPECT_FALSE(M("proxyAddresses/$count lt 2"));
}

// ------------------------------------------------------------------------------------ planning

bool TestIndexed(std::string_view prop) {
  static const std::set<std::string, std::less<>> kIndexed = {"id",
                                                              "displayName",
                                                              "mail",
                                                              "accountEnabled",
                                                              "createdDateTime",
                                                              "proxyAddresses",
                                                              "assignedLicenses/skuId",
                                                              "age"};
  return kIndexed.count(prop) > 0;
}

std::optional<Plan> PlanOf(std::string_view text) {
  auto r = ParseFilter(text);
  EXPECT_TRUE(r.ok()) << text << ": " << r.status().message();
  if (!r.ok()) return std::nullopt;
  return PlanFilter(**r, TestIndexed);
}

std::string R(const Range& r) {
  switch (r.kind) {
    case Range::Kind::kEq:
      return r.prop + "=" + r.low;
    case Range::Kind::kPrefix:
      return r.prop + "^" + r.low;
    case Range::Kind::kInterval:
      return r.prop + (r.has_low ? (r.low_inclusive ? "[" : "(") + r.low : "(-") + "," +
             (r.has_high ? r.high + (r.high_inclusive ? "]" : ")") : "+)");
  }
  return "?";
}

// "exact: a=b | c^d" or "none".
std::string PS(std::string_view text) {
  std::optional<Plan> p = PlanOf(text);
  if (!p) return "none";
  std::string out = p->exact ? "exact:" : "inexact:";
  for (size_t k = 0; k < p->branches.size(); ++k) out += (k ? " | " : " ") + R(p->branches[k]);
  return out;
}

TEST(Plan, SingleConditions) {
  EXPECT_EQ(PS("displayName eq 'Ann'"), "exact: displayName=ann");
  EXPECT_EQ(PS("id eq 6EA91A8D-e32e-41a1-b7bd-d2d185eed0e0"),
            "exact: id=6ea91a8d-e32e-41a1-b7bd-d2d185eed0e0");
  EXPECT_EQ(PS("accountEnabled eq true"), "exact: accountEnabled=true");
  EXPECT_EQ(PS("startswith(displayName,'AN')"), "exact: displayName^an");
  // Ranges that may reach the store's null entry (one 0 byte) are never exact.
  EXPECT_EQ(PS("startswith(displayName,'')"), "inexact: displayName^");
  EXPECT_EQ(PS("displayName ge ''"), "inexact: displayName[,+)");
  EXPECT_EQ(PS("displayName gt ''"), "inexact: displayName(,+)");
  EXPECT_EQ(PS("displayName lt 'b'"), "exact: displayName(-,b)");
  EXPECT_EQ(PS("displayName in ('b', 'A', 'B', 'c')"),
            "exact: displayName=a | displayName=b | displayName=c");
  EXPECT_EQ(PS("displayName gt 'M'"), "exact: displayName(m,+)");
  EXPECT_EQ(PS("displayName ge 'M'"), "exact: displayName[m,+)");
  EXPECT_EQ(PS("displayName lt 'M'"), "exact: displayName(-,m)");
  EXPECT_EQ(PS("displayName le 'M'"), "exact: displayName(-,m]");
  EXPECT_EQ(PS("jobTitle eq 'x'"), "none");  // not indexed
  EXPECT_EQ(PS("displayName ne 'x'"), "none");
  EXPECT_EQ(PS("endswith(displayName,'x')"), "none");
  EXPECT_EQ(PS("not displayName eq 'x'"), "none");
  EXPECT_EQ(PS("displayName eq null"), "none");
  EXPECT_EQ(PS("age eq 3"), "none");  // numbers are not planned
  EXPECT_EQ(PS("accountEnabled ne true"), "none");
  EXPECT_EQ(PS("displayName in ('a', null)"), "none");
  EXPECT_EQ(PS("proxyAddresses/$count eq 0"), "none");
}

TEST(Plan, DateTimes) {
  EXPECT_EQ(PS("createdDateTime eq 2024-03-01T10:00:00Z"),
            "inexact: createdDateTime^2024-03-01t10:00:00");
  EXPECT_EQ(PS("createdDateTime eq 2024-03-01T10:00:00.5+01:00"),
            "inexact: createdDateTime^2024-03-01t09:00:00");
  EXPECT_EQ(PS("createdDateTime ge 2024-01-01T00:30:00+01:00"),
            "inexact: createdDateTime[2023-12-31t23:30:00,+)");
  EXPECT_EQ(PS("createdDateTime lt 2024-01-01T00:00Z"),
            "inexact: createdDateTime(-,2024-01-01t00:00:00~]");
  EXPECT_EQ(
      PS("createdDateTime ge 2024-01-01T00:00:00Z and createdDateTime lt 2024-02-01T00:00:00Z"),
      "inexact: createdDateTime[2024-01-01t00:00:00,2024-02-01t00:00:00~]");
  EXPECT_EQ(PS("createdDateTime ge 0000-01-01T00:00:00+01:00"), "none");  // before year 0
}

TEST(Plan, AndPicksTheBestServableConjunct) {
  EXPECT_EQ(PS("jobTitle eq 'x' and displayName eq 'y'"), "inexact: displayName=y");
  EXPECT_EQ(PS("displayName ne 'x' and mail eq 'y'"), "inexact: mail=y");
  EXPECT_EQ(PS("not (mail eq 'a') and endswith(mail,'b') and startswith(displayName,'c')"),
            "inexact: displayName^c");
  EXPECT_EQ(PS("jobTitle eq 'x' and endswith(mail,'b')"), "none");
  // kEq over kPrefix over kInterval.
  EXPECT_EQ(PS("startswith(displayName,'a') and mail eq 'b'"), "inexact: mail=b");
  EXPECT_EQ(PS("displayName gt 'a' and startswith(mail,'b')"), "inexact: mail^b");
  // Fewer branches.
  EXPECT_EQ(PS("displayName in ('a','b') and mail eq 'c'"), "inexact: mail=c");
  // Ranges on one property merge into one interval; exact when nothing else remains.
  EXPECT_EQ(PS("displayName ge 'a' and displayName le 'f'"), "exact: displayName[a,f]");
  EXPECT_EQ(PS("displayName gt 'a' and displayName ge 'a' and displayName lt 'q' and "
               "displayName le 'f'"),
            "exact: displayName(a,f]");
  EXPECT_EQ(PS("displayName ge 'a' and displayName le 'f' and jobTitle eq 'x'"),
            "inexact: displayName[a,f]");
  EXPECT_EQ(PS("displayName ge 'a' and mail le 'f'"), "inexact: displayName[a,+)");
  // Ranges from two any() on one collection do not merge (different elements may match).
  EXPECT_EQ(PS("proxyAddresses/any(x: x ge 'a') and proxyAddresses/any(x: x le 'f')"),
            "inexact: proxyAddresses[a,+)");
  // Within one lambda body they do: the same element satisfies both.
  EXPECT_EQ(PS("proxyAddresses/any(x: x ge 'a' and x le 'f')"), "exact: proxyAddresses[a,f]");
  EXPECT_EQ(PS("displayName eq 'a' and (mail eq 'b' or mail eq 'c')"), "inexact: displayName=a");
  EXPECT_EQ(PS("jobTitle eq 'q' and (mail eq 'b' or mail eq 'c')"), "inexact: mail=b | mail=c");
}

TEST(Plan, OrNeedsEveryBranch) {
  EXPECT_EQ(PS("displayName eq 'a' or mail eq 'b'"), "exact: displayName=a | mail=b");
  EXPECT_EQ(PS("displayName eq 'a' or jobTitle eq 'b'"), "none");
  EXPECT_EQ(PS("displayName eq 'a' or not mail eq 'b'"), "none");
  EXPECT_EQ(PS("displayName eq 'a' or displayName eq 'A' or startswith(mail,'m')"),
            "exact: displayName=a | mail^m");
  EXPECT_EQ(PS("(displayName eq 'a' and jobTitle eq 'j') or mail eq 'b'"),
            "inexact: displayName=a | mail=b");
  EXPECT_EQ(PS("displayName in ('a','b') or mail eq 'c'"),
            "exact: displayName=a | displayName=b | mail=c");
}

TEST(Plan, Lambdas) {
  EXPECT_EQ(PS("proxyAddresses/any(x: x eq 'SMTP:a@b')"), "exact: proxyAddresses=smtp:a@b");
  EXPECT_EQ(PS("proxyAddresses/any(x: startswith(x, 'smtp:'))"), "exact: proxyAddresses^smtp:");
  EXPECT_EQ(PS("proxyAddresses/any(x: x eq 'a' or x eq 'b')"),
            "exact: proxyAddresses=a | proxyAddresses=b");
  EXPECT_EQ(PS("proxyAddresses/any(x: x in ('b', 'a'))"),
            "exact: proxyAddresses=a | proxyAddresses=b");
  EXPECT_EQ(PS("assignedLicenses/any(l: l/skuId eq C7DF2760-2c81-4ef7-b578-5b5392b571df)"),
            "exact: assignedLicenses/skuId=c7df2760-2c81-4ef7-b578-5b5392b571df");
  EXPECT_EQ(PS("assignedLicenses/any(l: l/name eq 'x')"), "none");  // no element index
  EXPECT_EQ(PS("assignedLicenses/any(l: l/name eq 'x' and "
               "l/skuId eq c7df2760-2c81-4ef7-b578-5b5392b571df)"),
            "inexact: assignedLicenses/skuId=c7df2760-2c81-4ef7-b578-5b5392b571df");
  EXPECT_EQ(PS("proxyAddresses/any()"), "none");
  EXPECT_EQ(PS("proxyAddresses/all(x: x eq 'a')"), "none");
  EXPECT_EQ(PS("proxyAddresses/all(x: x eq 'a') and displayName eq 'd'"), "inexact: displayName=d");
  EXPECT_EQ(PS("proxyAddresses/any(x: endswith(x, 'a'))"), "none");
}

TEST(Plan, TooManyBranches) {
  std::string a = "displayName in (", b = "mail in (";
  for (int k = 0; k < 100; ++k) {
    a += (k ? ",'" : "'") + std::to_string(k) + "'";
    b += (k ? ",'" : "'") + std::to_string(k) + "'";
  }
  a += ")";
  b += ")";
  EXPECT_EQ(PlanOf(a)->branches.size(), 100u);
  EXPECT_EQ(PlanOf(a + " or " + b)->branches.size(), 200u);
  EXPECT_FALSE(PlanOf(a + " or " + b + " or id eq 'x'"));
}

TEST(Plan, FoldForIndex) {
  EXPECT_EQ(FoldForIndex(Value::String("AbC")), "abc");
  EXPECT_EQ(FoldForIndex(Value::Guid("6EA91A8D-E32E-41A1-B7BD-D2D185EED0E0")),
            "6ea91a8d-e32e-41a1-b7bd-d2d185eed0e0");
  EXPECT_EQ(FoldForIndex(Value::DateTime("2024-01-01T00:00:00Z")), "2024-01-01t00:00:00z");
  EXPECT_EQ(FoldForIndex(Value::Bool(true)), "true");
  EXPECT_EQ(FoldForIndex(Value::Bool(false)), "false");
  EXPECT_EQ(FoldForIndex(Value::Int(-12)), "-12");
  EXPECT_EQ(FoldForIndex(Value::Double(2.5)), "2.5");
  EXPECT_EQ(FoldForIndex(Value::Null()), "");
}

// ------------------------------------------------------------------------------------ query
// options

using Params = std::vector<std::pair<std::string, std::string>>;

std::string QueryError(const Params& params) {
  auto r = ParseQueryOptions(params, TestSchema);
  if (r.ok()) return "ok";
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(r.status().graph_code(), "Request_BadRequest");
  return r.status().message();
}

TEST(QueryOptions, ParsesEveryOption) {
  auto r = ParseQueryOptions({{"$filter", "displayName eq 'a'"},
                              {"$select", "id, displayName,mail,DISPLAYNAME"},
                              {"$orderby", "displayName desc, createdDateTime ASC,mail"},
                              {"$top", "999"},
                              {"$count", "true"},
                              {"$skiptoken", "opaque+/=="},
                              {"$search", "\"displayName:ann\""},
                              {"api-version", "ignored"},
                              {"top", "ignored too"}},
                             TestSchema);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_TRUE(r->filter);
  EXPECT_EQ(ToString(*r->filter), "displayName eq 'a'");
  EXPECT_EQ(r->filter_text, "displayName eq 'a'");
  EXPECT_EQ(r->select, (std::vector<std::string>{"id", "displayName", "mail"}));
  ASSERT_EQ(r->orderby.size(), 3u);
  EXPECT_EQ(r->orderby[0].prop, "displayName");
  EXPECT_TRUE(r->orderby[0].descending);
  EXPECT_EQ(r->orderby[1].prop, "createdDateTime");
  EXPECT_FALSE(r->orderby[1].descending);
  EXPECT_FALSE(r->orderby[2].descending);
  EXPECT_EQ(r->top, 999);
  EXPECT_TRUE(r->count);
  EXPECT_EQ(r->skiptoken, "opaque+/==");
  EXPECT_EQ(r->search, "\"displayName:ann\"");

  auto empty = ParseQueryOptions({}, TestSchema);
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->filter);
  EXPECT_TRUE(empty->select.empty());
  EXPECT_FALSE(empty->top);
  EXPECT_FALSE(empty->count);
  EXPECT_FALSE(empty->search);

  auto canon = ParseQueryOptions(
      {{"$FILTER", "DISPLAYNAME eq 'a'"}, {"$select", "MAIL"}, {"$orderby", "displayname"}},
      TestSchema, Canonical);
  ASSERT_TRUE(canon.ok()) << canon.status().message();
  EXPECT_EQ(ToString(*canon->filter), "displayName eq 'a'");
  EXPECT_EQ(canon->select, std::vector<std::string>{"mail"});
  EXPECT_EQ(canon->orderby[0].prop, "displayName");
}

TEST(QueryOptions, Errors) {
  EXPECT_EQ(QueryError({{"$top", "5"}, {"$TOP", "6"}}),
            "Query option '$top' is specified more than once.");
  EXPECT_EQ(QueryError({{"$expand", "manager"}}),
            "Query option '$expand' is not supported on this list; supported: $filter, $select, "
            "$orderby, $top, $count, $skiptoken, $search.");
  EXPECT_NE(QueryError({{"$skip", "5"}}).find("'$skip' is not supported"), std::string::npos);
  EXPECT_NE(QueryError({{"$", "5"}}).find("'$' is not supported"), std::string::npos);
  EXPECT_NE(QueryError({{"$\x01x", "5"}}).find("'$\\x01x'"), std::string::npos);
  EXPECT_EQ(QueryError({{"$filter", "foo eq 1"}}),
            "Invalid filter clause: property 'foo' does not exist");
  EXPECT_EQ(QueryError({{"$filter", ""}}), "Invalid filter clause: the filter is empty");
  EXPECT_EQ(QueryError({{"$select", "id,foo"}}),
            "Invalid query option '$select': property 'foo' does not exist");
  EXPECT_EQ(QueryError({{"$select", "id,,mail"}}),
            "Invalid query option '$select': an item of the list is empty");
  EXPECT_EQ(QueryError({{"$select", ""}}),
            "Invalid query option '$select': an item of the list is empty");
  EXPECT_EQ(QueryError({{"$select", "a/b"}}),
            "Invalid query option '$select': 'a/b' is not a property name");
  std::string many;
  for (int k = 0; k < 65; ++k) many += "id,";
  many += "id";
  EXPECT_EQ(QueryError({{"$select", many}}),
            "Invalid query option '$select': more than 64 properties");
  EXPECT_EQ(QueryError({{"$orderby", "displayName sideways"}}),
            "Invalid query option '$orderby': 'sideways' is not asc or desc");
  EXPECT_EQ(QueryError({{"$orderby", "a,b,c,d,e"}}),
            "Invalid query option '$orderby': more than 4 sort keys");
  EXPECT_EQ(QueryError({{"$orderby", "proxyAddresses"}}),
            "Invalid query option '$orderby': property 'proxyAddresses' is a collection or "
            "complex value and cannot be sorted on");
  EXPECT_EQ(QueryError({{"$orderby", "mail, MAIL desc"}}),
            "Invalid query option '$orderby': property 'MAIL' appears twice");
  EXPECT_EQ(QueryError({{"$orderby", "nope"}}),
            "Invalid query option '$orderby': property 'nope' does not exist");
  for (const char* bad : {"0", "1000", "-1", "abc", "", "1.5", "99999999999999999999", " "}) {
    EXPECT_EQ(QueryError({{"$top", bad}}).rfind("Invalid query option '$top': '", 0), 0u) << bad;
  }
  EXPECT_EQ(QueryError({{"$top", "1"}}), "ok");
  EXPECT_EQ(QueryError({{"$count", "yes"}}),
            "Invalid query option '$count': 'yes' is not true or false");
  EXPECT_EQ(QueryError({{"$count", "FALSE"}}), "ok");
  EXPECT_EQ(QueryError({{"$skiptoken", std::string(kMaxSkipTokenLength + 1, 'a')}}),
            "Invalid query option '$skiptoken': longer than 16384 characters");
  EXPECT_EQ(QueryError({{"$search", std::string(kMaxOptionLength + 1, 'a')}}),
            "Invalid query option '$search': longer than 4096 characters");
}

// ------------------------------------------------------------------------------------ hostile
// input

uint64_t Seed(uint64_t fallback) {
  const char* env = std::getenv("ODATA_FUZZ_SEED");
  return env ? std::strtoull(env, nullptr, 10) : fallback;
}

TEST(Hostile, TenThousandNestedParentheses) {
  std::string text(10000, '(');
  text += "a eq 1";
  text += std::string(10000, ')');
  // Over the length limit: refused before lexing.
  EXPECT_NE(ErrorOf(text).find("limit is 4096"), std::string::npos);
  // Within the length limit: refused at depth 33.
  std::string deep = std::string(2000, '(') + "a eq 1" + std::string(2000, ')');
  EXPECT_EQ(ErrorOf(deep), "Invalid filter clause: nesting deeper than 32 levels at position 32");
  std::string unbalanced(4096, '(');
  EXPECT_NE(ErrorOf(unbalanced).find("nesting deeper than 32"), std::string::npos);
  std::string closers(4096, ')');
  EXPECT_NE(ErrorOf(closers).find("position 0"), std::string::npos);
}

TEST(Hostile, DepthLimitIsExact) {
  std::string ok = std::string(32, '(') + "a eq 1" + std::string(32, ')');
  EXPECT_EQ(SP(ok), "(eq a 1)");
  std::string over = std::string(33, '(') + "a eq 1" + std::string(33, ')');
  EXPECT_NE(ErrorOf(over).find("nesting deeper than 32"), std::string::npos);
}

TEST(Hostile, DeepNot) {
  std::string text;
  for (int k = 0; k < 1000; ++k) text += "not ";
  text += "a eq 1";
  EXPECT_NE(ErrorOf(text).find("nesting deeper than 32"), std::string::npos);
  std::string ok;
  for (int k = 0; k < 32; ++k) ok += "not ";
  ok += "a eq 1";
  auto r = ParseFilter(ok);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(Matches(**r, json::object{{"a", 1}}));  // an even number of nots
  std::string paren_nots;
  for (int k = 0; k < 1000; ++k) paren_nots += "not(";
  EXPECT_NE(ErrorOf(paren_nots).find("nesting deeper than 32"), std::string::npos);
}

TEST(Hostile, NodeAndListLimits) {
  std::string text = "a eq 0";
  for (int k = 1; k < 50; ++k) text += " or a eq " + std::to_string(k);
  EXPECT_TRUE(ParseFilter(text).ok());  // 50 comparisons + 49 'or' = 99 nodes
  text += " or a eq 50";                // 101
  EXPECT_EQ(ErrorOf(text),
            "Invalid filter clause: the filter has more than 100 operators and comparisons");
  std::string list = "a in (";
  for (int k = 0; k < 100; ++k) list += (k ? "," : "") + std::to_string(k);
  EXPECT_TRUE(ParseFilter(list + ")").ok());
  EXPECT_NE(ErrorOf(list + ",100)").find("an 'in' list has more than 100 values"),
            std::string::npos);
}

TEST(Hostile, UnterminatedAndLongInput) {
  EXPECT_NE(ErrorOf("a eq '").find("unterminated string literal starting at position 5"),
            std::string::npos);
  EXPECT_NE(ErrorOf("a eq 'x''").find("unterminated"), std::string::npos);
  EXPECT_EQ(SP("a eq 'x'''"), "(eq a 'x''')");
  std::string long_string = "a eq '" + std::string(4000, 'x') + "'";
  auto r = ParseFilter(long_string);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->values[0].text.size(), 4000u);
  std::string at_limit = "a eq '" + std::string(kMaxFilterLength - 7, 'x') + "'";
  ASSERT_EQ(at_limit.size(), kMaxFilterLength);
  EXPECT_TRUE(ParseFilter(at_limit).ok());
  EXPECT_EQ(ErrorOf(at_limit + " "),
            "Invalid filter clause: the filter is 4097 characters long; the limit is 4096");
  EXPECT_NE(ErrorOf(std::string(1 << 20, 'a')).find("limit is 4096"), std::string::npos);
  // A long unterminated string and a long identifier stay linear.
  auto start = std::chrono::steady_clock::now();
  for (int k = 0; k < 200; ++k) {
    EXPECT_FALSE(ParseFilter("a eq '" + std::string(4000, '\'')).ok() &&
                 ParseFilter(std::string(4096, 'a')).ok());
    EXPECT_FALSE(ParseFilter(std::string(4096, '-')).ok());
    EXPECT_FALSE(ParseFilter(std::string(4095, '1') + "-").ok());
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 10.0);  // generous: linear work is well under a second
}

TEST(Hostile, RandomBytes) {
  uint64_t seed = Seed(20240601);
  std::cout << "RandomBytes seed=" << seed << " (set ODATA_FUZZ_SEED to replay)" << std::endl;
  std::mt19937_64 rng(seed);
  const std::string alphabet = "()',:/ -.$0123456789abcdefeqnotandorin'\"\\\t\n\x00\xff";
  const std::vector<std::string> valid = {
      "displayName eq 'a' and (b ne 1.5 or not startswith(c,'x'))",
      "tags/any(x: x eq 'a' or x in ('b', 'c')) and d/$count gt 2",
      "createdDateTime ge 2024-01-01T00:00:00Z and id eq 6ea91a8d-e32e-41a1-b7bd-d2d185eed0e0",
  };
  json::object obj = TestUser();
  int parsed = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::string text;
    if (iter % 2 == 0) {
      size_t len = rng() % 120;
      for (size_t k = 0; k < len; ++k) {
        text.push_back(rng() % 2 ? alphabet[rng() % alphabet.size()] : static_cast<char>(rng()));
      }
    } else {
      text = valid[rng() % valid.size()];
      for (size_t m = 1 + rng() % 3; m > 0; --m) {
        size_t at = rng() % (text.size() + 1);
        char c = rng() % 2 ? alphabet[rng() % alphabet.size()] : static_cast<char>(rng());
        switch (rng() % 3) {
          case 0:
            text.insert(text.begin() + static_cast<std::ptrdiff_t>(at), c);
            break;
          case 1:
            if (at < text.size()) text.erase(at, 1);
            break;
          default:
            if (at < text.size()) text[at] = c;
        }
      }
    }
    auto r = ParseFilter(text);
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
      EXPECT_TRUE(StartsWith(r.status().message(), "Invalid filter clause: "));
      continue;
    }
    ++parsed;
    Validate(**r, TestSchema).IgnoreError();
    Matches(**r, obj);
    PlanFilter(**r, TestIndexed);
  }
  std::cout << "RandomBytes parsed " << parsed << " of 20000" << std::endl;
}

// Index semantics as the store implements them: the folded values of `prop` in `obj` (strings
// lower-cased, booleans "true"/"false"; collections one per element; "c/sub" the sub-property of
// each element of c; otherwise a path through nested objects). A missing or null top-level
// single value is one 0 byte, as directory/state_machine.cc indexes it.
std::vector<std::string> IndexEntries(const json::object& obj, const std::string& prop) {
  std::vector<std::string> out;
  auto add = [&](const json::value& v) {
    if (v.is_string()) out.push_back(AsciiLower(std::string_view(v.get_string())));
    if (v.is_bool()) out.push_back(v.get_bool() ? "true" : "false");
  };
  size_t slash = prop.find('/');
  const json::value* v = obj.if_contains(prop.substr(0, slash));
  if (slash == std::string::npos && (!v || v->is_null()) && prop != "tags") {
    out.push_back(std::string(1, '\0'));  // the store's entry for a missing single value
    return out;
  }
  if (!v) return out;
  if (slash == std::string::npos) {
    if (v->is_array()) {
      for (const auto& e : v->get_array()) add(e);
    } else {
      add(*v);
    }
    return out;
  }
  std::string sub = prop.substr(slash + 1);
  if (v->is_array()) {
    for (const auto& e : v->get_array()) {
      if (e.is_object()) {
        if (const json::value* s = e.get_object().if_contains(sub)) add(*s);
      }
    }
  } else if (v->is_object()) {
    if (const json::value* s = v->get_object().if_contains(sub)) add(*s);
  }
  return out;
}

bool InRange(const Range& r, const json::object& obj) {
  for (const std::string& x : IndexEntries(obj, r.prop)) {
    switch (r.kind) {
      case Range::Kind::kEq:
        if (x == r.low) return true;
        break;
      case Range::Kind::kPrefix:
        if (StartsWith(x, r.low)) return true;
        break;
      case Range::Kind::kInterval: {
        if (!r.has_low && x == std::string(1, '\0')) break;  // scans start after the null entry
        bool lo = !r.has_low || (r.low_inclusive ? x >= r.low : x > r.low);
        bool hi = !r.has_high || (r.high_inclusive ? x <= r.high : x < r.high);
        if (lo && hi) return true;
      }
    }
  }
  return false;
}

// Random filters from the grammar, and random objects they are evaluated on.
class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}

  size_t Pick(size_t n) { return rng_() % n; }

  std::string Literal(bool for_string) {
    static const char* kStrings[] = {
        "'a'",     "'A'", "'ab'", "'b'",
        "'it''s'", "''",  "'z'",  "'6ea91a8d-e32e-41a1-b7bd-d2d185eed0e0'"};
    static const char* kOthers[] = {"1",
                                    "-2",
                                    "2.5",
                                    "true",
                                    "false",
                                    "null",
                                    "6EA91A8D-e32e-41a1-b7bd-d2d185eed0e0",
                                    "2024-01-01T00:00:00Z",
                                    "2024-01-01T01:00:00.5+01:00",
                                    "2023-12-31T23:59:59Z"};
    if (for_string || Pick(2)) return kStrings[Pick(std::size(kStrings))];
    return kOthers[Pick(std::size(kOthers))];
  }

  std::string Prop() {
    static const char* kProps[] = {"displayName",     "mail", "jobTitle", "accountEnabled",
                                   "createdDateTime", "id",   "age",      "obj/sub"};
    return kProps[Pick(std::size(kProps))];
  }

  std::string Op() {
    static const char* kOps[] = {"eq", "ne", "gt", "ge", "lt", "le", "EQ"};
    return kOps[Pick(std::size(kOps))];
  }

  std::string Leaf(const std::string& var) {
    std::string p = var.empty() ? Prop() : (Pick(2) ? var : var + "/name");
    switch (Pick(var.empty() ? 6 : 4)) {
      case 0:
        return p + " " + Op() + " " + Literal(false);
      case 1:
        return std::string(Pick(2) ? "startswith(" : "endswith(") + p + "," + Literal(true) + ")";
      case 2: {
        std::string out = p + " in (";
        size_t n = 1 + Pick(4);
        for (size_t k = 0; k < n; ++k) out += (k ? "," : "") + Literal(false);
        return out + ")";
      }
      case 3:
        return p + " " + Op() + " " + Literal(true);
      case 4: {
        std::string c = Pick(2) ? "tags" : "items";
        if (Pick(5) == 0) return c + "/any()";
        return c + (Pick(3) ? "/any(x: " : "/all(x: ") + Expr(2, "x") + ")";
      }
      default:
        return std::string(Pick(2) ? "tags" : "items") + "/$count " + Op() + " " +
               std::to_string(Pick(3));
    }
  }

  std::string Expr(int depth, const std::string& var = "") {
    if (depth <= 0 || Pick(3) == 0) return Leaf(var);
    switch (Pick(4)) {
      case 0:
        return Expr(depth - 1, var) + " and " + Expr(depth - 1, var);
      case 1:
        return Expr(depth - 1, var) + " or " + Expr(depth - 1, var);
      case 2:
        return Pick(2) ? "not " + Expr(depth - 1, var) : "not(" + Expr(depth - 1, var) + ")";
      default:
        return "(" + Expr(depth - 1, var) + ")";
    }
  }

  // A token sequence drawn from the vocabulary: random, or a grammar sentence mutated.
  std::string TokenSoup() {
    static const char* kVocab[] = {"displayName",
                                   "mail",
                                   "tags",
                                   "items",
                                   "x",
                                   "x/name",
                                   "obj/sub",
                                   "eq",
                                   "ne",
                                   "gt",
                                   "ge",
                                   "lt",
                                   "le",
                                   "and",
                                   "or",
                                   "not",
                                   "in",
                                   "(",
                                   ")",
                                   ",",
                                   ":",
                                   "/",
                                   "any",
                                   "all",
                                   "$count",
                                   "startswith",
                                   "endswith",
                                   "'a'",
                                   "'it''s'",
                                   "1",
                                   "-2",
                                   "2.5",
                                   "true",
                                   "false",
                                   "null",
                                   "6ea91a8d-e32e-41a1-b7bd-d2d185eed0e0",
                                   "2024-01-01T00:00:00Z",
                                   "/any(",
                                   "/all(",
                                   "x:",
                                   "'",
                                   "''"};
    std::vector<std::string> tokens;
    size_t shape = Pick(3);  // 0: random tokens; 1: a sentence; 2: a mutated sentence
    if (shape == 0) {
      size_t n = 1 + Pick(25);
      for (size_t k = 0; k < n; ++k) tokens.push_back(kVocab[Pick(std::size(kVocab))]);
    } else {
      // Split a grammar sentence on spaces and mutate a token or two.
      std::string sentence = Expr(3);
      size_t start = 0;
      while (start <= sentence.size()) {
        size_t space = sentence.find(' ', start);
        if (space == std::string::npos) space = sentence.size();
        if (space > start) tokens.push_back(sentence.substr(start, space - start));
        start = space + 1;
      }
      size_t mutations = shape == 1 ? 0 : 1 + Pick(2);
      for (size_t m = 0; m < mutations && !tokens.empty(); ++m) {
        size_t at = Pick(tokens.size());
        switch (Pick(3)) {
          case 0:
            tokens.erase(tokens.begin() + static_cast<std::ptrdiff_t>(at));
            break;
          case 1:
            tokens.insert(tokens.begin() + static_cast<std::ptrdiff_t>(at),
                          kVocab[Pick(std::size(kVocab))]);
            break;
          default:
            tokens[at] = kVocab[Pick(std::size(kVocab))];
        }
      }
    }
    std::string out;
    for (const std::string& t : tokens) {
      // Unmutated sentences keep their spaces; others sometimes glue two tokens together.
      if (!out.empty() && (shape == 1 || Pick(16))) out += ' ';
      out += t;
    }
    return out;
  }

  // Objects follow FuzzSchema's types, as stored objects follow the directory's schema.
  json::value Str() {
    static const char* kValues[] = {
        "a", "A", "ab", "it's", "", "b", "z", "true", "6ea91a8d-e32e-41a1-b7bd-d2d185eed0e0"};
    if (Pick(6) == 0) return nullptr;
    return json::value(kValues[Pick(std::size(kValues))]);
  }

  json::object Object() {
    json::object o;
    for (const char* p : {"displayName", "mail", "jobTitle", "id"}) {
      if (Pick(5)) o[p] = Str();
    }
    if (Pick(4))
      o["accountEnabled"] = Pick(3) == 0 ? json::value(nullptr) : json::value(Pick(2) == 0);
    if (Pick(4)) o["age"] = static_cast<int64_t>(Pick(4)) - 1;
    if (Pick(4)) {
      static const char* kDates[] = {"2023-12-31T23:59:59Z", "2024-01-01T00:00:00Z",
                                     "2024-01-01T00:00:01Z", "2024-06-01T12:00:00Z"};
      o["createdDateTime"] = kDates[Pick(4)];
    }
    if (Pick(3)) o["obj"] = json::object{{"sub", Str()}};
    json::array tags;
    for (size_t k = Pick(4); k > 0; --k) {
      json::value v = Str();
      if (!v.is_null()) tags.push_back(std::move(v));
    }
    if (Pick(4)) o["tags"] = std::move(tags);
    json::array items;
    for (size_t k = Pick(3); k > 0; --k) items.push_back(json::object{{"name", Str()}});
    if (Pick(4)) o["items"] = std::move(items);
    return o;
  }

 private:
  std::mt19937_64 rng_;
};

std::optional<PropertyType> FuzzSchema(std::string_view path) {
  static const std::vector<std::pair<std::string_view, PropertyType>> kProps = {
      {"displayName", PropertyType::kString},
      {"mail", PropertyType::kString},
      {"jobTitle", PropertyType::kString},
      {"id", PropertyType::kString},
      {"accountEnabled", PropertyType::kBool},
      {"createdDateTime", PropertyType::kDateTime},
      {"age", PropertyType::kInt},
      {"tags", PropertyType::kStringCollection},
      {"items", PropertyType::kObjectCollection},
      {"items/name", PropertyType::kString},
      {"obj", PropertyType::kObject},
      {"obj/sub", PropertyType::kString},
  };
  for (const auto& [name, type] : kProps) {
    if (name == path) return type;
  }
  return std::nullopt;
}

bool FuzzIndexed(std::string_view prop) {
  return prop == "displayName" || prop == "mail" || prop == "accountEnabled" ||
         prop == "createdDateTime" || prop == "id" || prop == "tags" || prop == "items/name" ||
         prop == "obj/sub";
}

TEST(Hostile, GrammarTokenFuzzRoundTrips) {
  uint64_t seed = Seed(77);
  std::cout << "GrammarTokenFuzz seed=" << seed << " (set ODATA_FUZZ_SEED to replay)" << std::endl;
  Generator gen(seed);
  std::vector<json::object> objects;
  for (int k = 0; k < 40; ++k) objects.push_back(gen.Object());
  int parsed = 0, planned = 0, valid = 0;
  for (int iter = 0; iter < 50000; ++iter) {
    std::string text = gen.TokenSoup();
    auto r = ParseFilter(text);
    if (!r.ok()) {
      ASSERT_EQ(r.status().code(), Code::kInvalidArgument) << text;
      continue;
    }
    ++parsed;
    std::string printed = ToString(**r);
    auto again = ParseFilter(printed);
    ASSERT_TRUE(again.ok()) << "input: " << text << "\nprinted: " << printed << "\n"
                            << again.status().message();
    ASSERT_EQ(ToString(**again), printed) << "input: " << text;
    ASSERT_EQ(S(**again), S(**r)) << "input: " << text;
    // Exactness assumes stored values have the schema's types, which Validate ensures of the
    // literals; coverage holds for any filter.
    bool well_typed = Validate(**r, FuzzSchema).ok();
    if (well_typed) ++valid;

    // The plan covers every match; an exact plan matches exactly.
    std::optional<Plan> plan = PlanFilter(**r, FuzzIndexed);
    if (plan) ++planned;
    for (const json::object& o : objects) {
      bool match = Matches(**r, o);
      ASSERT_EQ(match, Matches(**again, o)) << text;
      if (!plan) continue;
      bool covered = false;
      for (const Range& b : plan->branches) covered = covered || InRange(b, o);
      if (match) {
        ASSERT_TRUE(covered) << "plan misses a match\nfilter: " << printed
                             << "\nobject: " << json::serialize(o);
      }
      if (plan->exact && well_typed) {
        ASSERT_EQ(covered, match) << "exact plan is not exact\nfilter: " << printed
                                  << "\nobject: " << json::serialize(o);
      }
    }
  }
  std::cout << "GrammarTokenFuzz parsed " << parsed << " of 50000, well-typed " << valid
            << ", planned " << planned << std::endl;
  EXPECT_GT(parsed, 15000);
  EXPECT_GT(planned, 1000);
}

}  // namespace
}  // namespace meridian::odata
