// SPDX-License-Identifier: Apache-2.0
// MessageWriter: a scenario's SIP message written straight into its bytes (see
// sip_writer.h).
#include "ops/sip/sip_writer.h"

#include <utility>

#include "ops/base/check.h"
#include "ops/sip/sip_headers.h"

namespace testrund::ops::sip {

MessageWriter::MessageWriter(const std::vector<Header>& user, size_t body_size) : user_(user) {
  // The default fields of a request with its Via, tags and Call-ID take ~400 bytes.
  size_t size = 512 + body_size;
  for (const Header& header : user_) size += header.name.size() + header.value.size() + 4;
  out_.reserve(size);
}

void MessageWriter::RequestLine(std::string_view method, std::string_view uri) {
  out_ += method;
  out_ += ' ';
  out_ += uri;
  out_ += ' ';
  out_ += kVersion;
  out_ += "\r\n";
}

void MessageWriter::StatusLine(int status, std::string_view reason) {
  out_ += kVersion;
  out_ += ' ';
  out_ += static_cast<char>('0' + status / 100 % 10);
  out_ += static_cast<char>('0' + status / 10 % 10);
  out_ += static_cast<char>('0' + status % 10);
  out_ += ' ';
  out_ += reason;
  out_ += "\r\n";
}

const std::string* MessageWriter::User(std::string_view name) const {
  for (auto it = user_.rbegin(); it != user_.rend(); ++it) {
    if (SameName(it->name, name)) return &it->value;
  }
  return nullptr;
}

bool MessageWriter::IsDefault(std::string_view name) const {
  for (size_t k = 0; k < default_count_; ++k) {
    if (SameName(defaults_[k], name)) return true;
  }
  return false;
}

void MessageWriter::Remember(std::string_view name) {
  if (user_.empty()) return;  // nearly every message: nothing for Finish to leave out
  CHECK(default_count_ < kMaxDefaults);
  defaults_[default_count_++] = name;
}

bool MessageWriter::Begin(std::string_view name) {
  out_ += name;
  out_ += ": ";
  const std::string* user = User(name);
  if (user != nullptr) out_ += *user;
  return user != nullptr;
}

void MessageWriter::Fields(std::string_view name, const std::vector<std::string_view>& values) {
  if (values.empty()) return;  // the user's field of this name, if any, goes with the others
  Remember(name);
  if (const std::string* user = User(name)) {
    Line(name, *user);  // the user's line replaces them all, as the first one's would
    return;
  }
  for (std::string_view value : values) Line(name, value);
}

void MessageWriter::Line(std::string_view name, std::string_view value) {
  out_ += name;
  out_ += ": ";
  out_ += value;
  out_ += "\r\n";
}

std::string MessageWriter::Finish(std::string_view body) {
  for (size_t k = 0; k < user_.size(); ++k) {
    const Header& header = user_[k];
    if (IsDefault(header.name)) continue;
    bool written = false;  // under an earlier field of the same name
    for (size_t j = 0; j < k && !written; ++j) written = SameName(user_[j].name, header.name);
    if (written) continue;
    Line(header.name, *User(header.name));
  }
  out_ += "\r\n";
  out_ += body;
  return std::move(out_);
}

}  // namespace testrund::ops::sip
