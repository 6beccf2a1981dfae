// SPDX-License-Identifier: Apache-2.0
// MessageWriter: a SIP message a scenario sends, written straight into its bytes (RFC 3261
// §7): the start line; the daemon's default header fields in its order, each replaced by
// the user's field of the same name (any case, compact or full form; of several the last
// wins); the user's other fields in the order first given; an empty line; the body
// (docs/protocol-ops.md#sip, `arguments.headers`: "any header given here wins over the
// daemon's own"). It writes what building a sip::Message and serializing it wrote, without
// a string per field: those allocations were a visible share of a call's cost
// (docs/performance.md, scenario 12).
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "ops/sip/sip_message.h"

namespace testrund::ops::sip {

class MessageWriter {
 public:
  // The most default field names one message has.
  static constexpr size_t kMaxDefaults = 16;

  // `user`: the fields the user gave, borrowed for the writer's life. `body_size` sizes the
  // buffer once.
  MessageWriter(const std::vector<Header>& user, size_t body_size);
  // A temporary would be gone before the fields are written.
  MessageWriter(std::vector<Header>&& user, size_t body_size) = delete;

  void RequestLine(std::string_view method, std::string_view uri);
  void StatusLine(int status, std::string_view reason);

  // A default field: the user's value when the user gave a field of this name, else the
  // parts joined.
  template <typename... Parts>
  void Field(std::string_view name, const Parts&... parts) {
    Remember(name);
    if (!Begin(name)) (out_.append(std::string_view(parts)), ...);
    out_ += "\r\n";
  }
  // Default fields of one name on several lines (a response's Vias): all of them, or the
  // user's one line instead.
  void Fields(std::string_view name, const std::vector<std::string_view>& values);

  // The user's value for `name` (the last given), or nullptr.
  const std::string* User(std::string_view name) const;

  // The user's other fields, the empty line and `body`: the message's bytes.
  std::string Finish(std::string_view body);

 private:
  // Notes `name` as a default field's, for Finish to leave the user's field of that name
  // out (it was written in the default's place).
  void Remember(std::string_view name);
  // Writes "name: " and, when the user gave `name`, the user's value; false when the
  // caller is to write the default value.
  bool Begin(std::string_view name);
  bool IsDefault(std::string_view name) const;
  // "name: value" and the line end.
  void Line(std::string_view name, std::string_view value);

  const std::vector<Header>& user_;
  std::string out_;
  std::array<std::string_view, kMaxDefaults> defaults_;
  size_t default_count_ = 0;
};

}  // namespace testrund::ops::sip
