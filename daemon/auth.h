// SPDX-License-Identifier: Apache-2.0
// TokenTable: the configured access tokens and their roles (SPEC §1), looked up in constant
// time per token (CRYPTO_memcmp), and the parsing of an HTTP `Authorization: Bearer` value.
// Tokens are secrets: nothing here logs them or puts them in an error message.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ops/status.h"
#include "rpc/role.h"

namespace testrund::daemon {

class TokenTable {
 public:
  // Builds the table from `TOKEN:ROLE` entries (split at the last ':').
  // Error: a malformed entry (named by its position, never by its token).
  static Result<TokenTable> Create(const std::vector<std::string>& entries);

  // true when at least one token is configured (every call then needs one).
  bool auth_required() const { return !entries_.empty(); }

  // The role of `token`, or nullopt. Compares against every entry in constant time for
  // equal lengths, so timing does not reveal how much of a token matched.
  std::optional<rpc::Role> Lookup(std::string_view token) const;

  // A TokenLookup for rpc::Dispatcher; borrows this table, which must outlive it.
  rpc::TokenLookup AsLookup() const;

 private:
  struct Entry {
    std::string token;
    rpc::Role role;
  };
  std::vector<Entry> entries_;
};

// The token of an `Authorization` header value `Bearer <token>` (scheme case-insensitive),
// or nullopt for any other form.
std::optional<std::string_view> BearerToken(std::string_view authorization);

}  // namespace testrund::daemon
