// SPDX-License-Identifier: Apache-2.0
// TokenTable and Bearer parsing (see auth.h).
#include "daemon/auth.h"

#include <fmt/core.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <strings.h>

namespace testrund::daemon {

Result<TokenTable> TokenTable::Create(const std::vector<std::string>& entries) {
  TokenTable table;
  for (size_t i = 0; i < entries.size(); ++i) {
    const std::string& entry = entries[i];
    size_t colon = entry.rfind(':');
    if (colon == std::string::npos || colon == 0) {
      return Status::Error(fmt::format("token #{}: expected TOKEN:ROLE", i + 1));
    }
    std::string_view role = std::string_view(entry).substr(colon + 1);
    rpc::Role parsed;
    if (role == "operator") {
      parsed = rpc::Role::kOperator;
    } else if (role == "observer") {
      parsed = rpc::Role::kObserver;
    } else {
      return Status::Error(
          fmt::format("token #{}: role \"{}\" is not operator or observer", i + 1, role));
    }
    Entry hashed{{}, parsed};
    if (!DigestOf(std::string_view(entry).substr(0, colon), &hashed.digest)) {
      return Status::Error(fmt::format("token #{}: OpenSSL cannot compute SHA-256", i + 1));
    }
    table.entries_.push_back(hashed);
  }
  return table;
}

bool TokenTable::DigestOf(std::string_view token, Digest* digest) {
  unsigned int size = 0;
  return EVP_Digest(token.data(), token.size(), digest->data(), &size, EVP_sha256(),
                    nullptr) == 1 &&
         size == digest->size();
}

std::optional<rpc::Role> TokenTable::Lookup(std::string_view token) const {
  Digest digest;
  if (!DigestOf(token, &digest)) return std::nullopt;
  std::optional<rpc::Role> found;
  // Every entry is compared, so the time does not depend on which one matched.
  for (const Entry& entry : entries_) {
    if (CRYPTO_memcmp(entry.digest.data(), digest.data(), digest.size()) == 0 && !found) {
      found = entry.role;
    }
  }
  return found;
}

rpc::TokenLookup TokenTable::AsLookup() const {
  return [this](std::string_view token) { return Lookup(token); };
}

std::optional<std::string_view> BearerToken(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer";
  while (!authorization.empty() && authorization.front() == ' ') authorization.remove_prefix(1);
  if (authorization.size() <= kScheme.size() ||
      strncasecmp(authorization.data(), kScheme.data(), kScheme.size()) != 0 ||
      authorization[kScheme.size()] != ' ') {
    return std::nullopt;
  }
  std::string_view token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
  if (token.empty()) return std::nullopt;
  return token;
}

}  // namespace testrund::daemon
