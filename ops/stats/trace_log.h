// SPDX-License-Identifier: Apache-2.0
// TraceLog: the first call's trace_log (docs/api.md#querytest first_call_summary,
// docs/protocol-ops.md). Each entry is a JSON object {"time": [sec, usec], "step", "op_idx",
// "path", ...fields}, all kept in ONE rapidjson document (an array) owned by the log, in the order
// added (time order). The log is capped (default 10,000 entries, and 32 MiB of strings so that a
// first call full of large messages cannot exhaust memory): the next entry after either cap is
// replaced by one final {"path": "trace.warning", "text": "trace_log truncated after N entries"}
// entry (", over M bytes" added for the byte cap), and every later one is dropped and counted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>

#include "ops/base/clock.h"

namespace testrund::ops {

class TraceLog {
 public:
  static constexpr size_t kDefaultMaxEntries = 10'000;
  static constexpr size_t kDefaultMaxBytes = 32u << 20;
  using Allocator = rapidjson::Document::AllocatorType;

  // A handle on the entry just added, for adding fields. It is valid until the next Add*
  // call on the log (the array may move). When the entry was dropped the handle is empty
  // (operator bool is false) and every setter does nothing, so callers need not check.
  class EntryRef {
   public:
    EntryRef() : value_(nullptr), log_(nullptr) {}  // an entry that was not logged
    explicit operator bool() const { return value_ != nullptr; }
    // Each setter copies `name` and string values into the log's document.
    EntryRef& SetString(std::string_view name, std::string_view value);
    EntryRef& SetInt(std::string_view name, int64_t value);
    EntryRef& SetUint(std::string_view name, uint64_t value);
    EntryRef& SetDouble(std::string_view name, double value);
    EntryRef& SetBool(std::string_view name, bool value);
    // "hex": `bytes` as hex digits; in a log that defers hex (DeferHex) the bytes are kept
    // as they are until EncodeDeferredHex().
    EntryRef& SetHex(std::string_view bytes);
    // Moves `value` in; it must have been built with allocator() (e.g. a copy made with
    // rapidjson::Value(other, ref.allocator())).
    EntryRef& SetValue(std::string_view name, rapidjson::Value&& value);
    // The log's allocator, for building values passed to SetValue. Only when non-empty.
    Allocator& allocator() { return log_->alloc_; }
    // The entry object itself (nullptr when dropped).
    rapidjson::Value* value() { return value_; }

   private:
    friend class TraceLog;
    EntryRef(rapidjson::Value* value, TraceLog* log) : value_(value), log_(log) {}
    rapidjson::Value* value_;
    TraceLog* log_;
  };

  // Neither copyable nor movable (the pool allocator is not): hold it by unique_ptr.
  explicit TraceLog(size_t max_entries = kDefaultMaxEntries,
                    size_t max_bytes = kDefaultMaxBytes);
  TraceLog(const TraceLog&) = delete;
  TraceLog& operator=(const TraceLog&) = delete;

  // Adds {"time", "step", "op_idx", "path"} and returns a handle to add more fields (e.g. a
  // protocol message's "protocol", "hex", readable fields). `path` is copied.
  EntryRef Add(WallTime time, uint64_t step, int op_idx, std::string_view path);

  // An internal trace event: {"time", "step", "op_idx", "path", "text"}; `path` is
  // "trace.notice", "trace.debug", "trace.spam" or "trace.warning". Returns false if dropped.
  bool AddText(WallTime time, uint64_t step, int op_idx, std::string_view path,
               std::string_view text);

  // A log that may never be read (a first_fail_summary candidate's, dropped when the
  // instance passes) keeps SetHex bytes raw: hex-encoding every message of every passing
  // instance was a sixth of an http request's cost. EncodeDeferredHex() encodes them (when
  // the log is to be read) and ends the deferral.
  void DeferHex() { defer_hex_ = true; }
  void EncodeDeferredHex();

  // Entries kept, the truncation entry included.
  size_t size() const { return entries_.Size(); }
  bool empty() const { return entries_.Empty(); }
  bool truncated() const { return truncated_; }
  // Entries refused after the cap (the one replaced by the truncation entry included).
  uint64_t dropped() const { return dropped_; }
  size_t max_entries() const { return max_entries_; }
  // Bytes of strings (paths, names, values) kept so far.
  size_t bytes() const { return bytes_; }

  // The array of entries (QueryTest's trace_log, as it is).
  const rapidjson::Value& entries() const { return entries_; }

 private:
  rapidjson::Value* Append(WallTime time, uint64_t step, int op_idx, std::string_view path);
  // A copy of `s` in the log's document, counted against the byte cap.
  rapidjson::Value Str(std::string_view s);

  size_t max_entries_;
  size_t max_bytes_;
  size_t bytes_ = 0;
  bool defer_hex_ = false;
  // Entries whose "hex" still holds raw bytes.
  std::vector<rapidjson::SizeType> deferred_hex_;
  // Small chunks: most first calls log little; the pool grows as needed.
  Allocator alloc_{4096};
  rapidjson::Value entries_{rapidjson::kArrayType};
  bool truncated_ = false;
  uint64_t dropped_ = 0;
};

}  // namespace testrund::ops
