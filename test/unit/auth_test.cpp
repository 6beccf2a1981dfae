// SPDX-License-Identifier: Apache-2.0
// TokenTable (daemon/auth.h): TOKEN:ROLE entries, lookups by digest, Bearer parsing.
#include "daemon/auth.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using testrund::daemon::BearerToken;
using testrund::daemon::TokenTable;
using testrund::rpc::Role;

TEST_CASE("TokenTable finds each token's role and nothing else", "[unit]") {
  auto table = TokenTable::Create({"op-secret:operator", "a:b:c:observer", "x:observer"});
  REQUIRE(table.ok());
  CHECK(table.value().auth_required());
  CHECK(table.value().Lookup("op-secret") == Role::kOperator);
  CHECK(table.value().Lookup("a:b:c") == Role::kObserver);  // split at the last ':'
  CHECK(table.value().Lookup("x") == Role::kObserver);
  for (const std::string& wrong : std::vector<std::string>{
           "", "op-secre", "op-secretx", "OP-SECRET", "a:b", "x ", std::string("x\0", 2)}) {
    INFO(wrong);
    CHECK_FALSE(table.value().Lookup(wrong).has_value());
  }
  auto empty = TokenTable::Create({});
  REQUIRE(empty.ok());
  CHECK_FALSE(empty.value().auth_required());
  CHECK_FALSE(empty.value().Lookup("").has_value());
}

TEST_CASE("TokenTable refuses malformed entries, naming their position only", "[unit]") {
  auto no_role = TokenTable::Create({"good:operator", "secret-without-role"});
  REQUIRE_FALSE(no_role.ok());
  CHECK(no_role.status().message() == "token #2: expected TOKEN:ROLE");
  auto bad_role = TokenTable::Create({"secret:admin"});
  REQUIRE_FALSE(bad_role.ok());
  CHECK(bad_role.status().message() == "token #1: role \"admin\" is not operator or observer");
  CHECK_FALSE(TokenTable::Create({":operator"}).ok());
}

TEST_CASE("BearerToken reads 'Bearer <token>' only", "[unit]") {
  CHECK(BearerToken("Bearer abc") == std::string_view("abc"));
  CHECK(BearerToken("bearer abc") == std::string_view("abc"));
  CHECK_FALSE(BearerToken("Basic abc").has_value());
  CHECK_FALSE(BearerToken("abc").has_value());
}
