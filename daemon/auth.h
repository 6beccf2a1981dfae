// SPDX-License-Identifier: Apache-2.0
// TokenTable: the configured access tokens and their roles (docs/api.md#1-transports), and the
// parsing of an HTTP `Authorization: Bearer` value. Tokens are kept and compared as SHA-256 digests
// (CRYPTO_memcmp over every entry), so the time of a lookup depends neither on how much of a token
// matched nor on its length. Tokens are secrets: nothing here logs them or puts them in an error
// message.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ops/base/status.h"
#include "rpc/role.h"

namespace testrund::daemon {

class TokenTable {
 public:
  // Builds the table from `TOKEN:ROLE` entries (split at the last ':').
  // Error: a malformed entry (named by its position, never by its token).
  static Result<TokenTable> Create(const std::vector<std::string>& entries);

  // true when at least one token is configured (every call then needs one).
  bool auth_required() const { return !entries_.empty(); }

  // The role of `token`, or nullopt. Compares its digest against every entry's.
  std::optional<rpc::Role> Lookup(std::string_view token) const;

  // A TokenLookup for rpc::Dispatcher; borrows this table, which must outlive it.
  rpc::TokenLookup AsLookup() const;

 private:
  using Digest = std::array<unsigned char, 32>;  // SHA-256
  // False only if OpenSSL cannot hash (then no token may match).
  static bool DigestOf(std::string_view token, Digest* digest);
  struct Entry {
    Digest digest;
    rpc::Role role;
  };
  std::vector<Entry> entries_;
};

// The token of an `Authorization` header value `Bearer <token>` (scheme case-insensitive),
// or nullopt for any other form.
std::optional<std::string_view> BearerToken(std::string_view authorization);

}  // namespace testrund::daemon
