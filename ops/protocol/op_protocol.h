// SPDX-License-Identifier: Apache-2.0
// What every protocol op (http, jsonrpc, tcp.*, udp.*) shares (SPEC §4 "Protocol ops"):
//   - InstanceIo: the sockets and the in-flight call an instance holds. It lives in
//     Instance::io, so cancelling or aborting the instance (which frees it) releases every
//     descriptor and timer, whatever the op was doing.
//   - PendingIo: one op's wait. Park() parks the instance (Run::ParkIo) and arms the op's
//     timeout; Complete() disarms it and hands the result to Run::FinishIo. When the timeout
//     fires first, OnTimeout() releases the op's sockets and the instance aborts with the
//     op's timeout text. A PendingIo is replaced by the next op's, never freed inside its
//     own callback.
//   - ArgCheck: the one set of argument rules, used twice: at ExecuteTest time on the op as
//     given (every problem into the -32602 list; `{...}` values are skipped) and when the op
//     executes on the evaluated values (the first problem aborts the instance).
//   - Expectations: `expect` values against a response, each one a check_log pass or fail
//     (an abort when `mandatory` is true); `i.<protocol>` tables; trace entries of messages.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <rapidjson/document.h>

#include "ops/base/clock.h"
#include "ops/instance.h"
#include "ops/base/hex.h"
#include "ops/net/client_socket.h"
#include "ops/net/io_context.h"
#include "ops/base/problem.h"
#include "ops/program.h"
#include "ops/stats/trace_log.h"

namespace testrund::ops {

class Run;

// Default timeout of http and jsonrpc (seconds).
constexpr double kDefaultHttpTimeout = 10;
constexpr double kMaxTimeout = 3600;

class PendingIo {
 public:
  PendingIo(Run& run, Instance& instance, const Op& op);
  virtual ~PendingIo();
  PendingIo(const PendingIo&) = delete;
  PendingIo& operator=(const PendingIo&) = delete;

  // Parks the instance until Complete() or the timeout; `timeout_text` is the abort text.
  void Park(MonoNs timeout, std::string timeout_text);
  // The op's I/O is over: `complete` runs as Run::FinishIo describes. At most once.
  void Complete(const std::function<bool()>& complete);
  bool finished() const { return finished_; }
  Run& run() const { return run_; }
  Instance& instance() const { return instance_; }
  const Op& op() const { return op_; }
  // Seconds since the op parked (i.<protocol>.time).
  double Elapsed() const;

 protected:
  // The timeout fired: close the op's sockets (the instance then aborts).
  virtual void OnTimeout() = 0;

 private:
  void OnTimer();

  Run& run_;
  Instance& instance_;
  const Op& op_;
  std::unique_ptr<Timer> timer_;
  std::string timeout_text_;
  MonoNs parked_at_ = 0;
  bool finished_ = false;
};

// A socket an instance keeps from one op to the next (tcp.connect's stream, the UDP socket
// of udp.send / udp.receive: ops/op_tcp.cpp, ops/op_udp.cpp).
class InstanceSocket {
 public:
  virtual ~InstanceSocket() = default;
};

struct InstanceIo {
  std::unique_ptr<PendingIo> pending;  // the op in flight, or the last one (spent)
  std::unique_ptr<InstanceSocket> tcp;  // the instance's TCP connection, if any
  std::unique_ptr<InstanceSocket> udp;  // the instance's UDP socket, if any
  ~InstanceIo();
};

// The instance's InstanceIo, created on first use.
InstanceIo& IoOf(Instance& instance);

// Argument problems: collected at validation, the first one aborts at execution.
class ArgCheck {
 public:
  // Validation of the op as given: problems go to `problems`.
  ArgCheck(int op_idx, Problems* problems) : op_idx_(op_idx), problems_(problems) {}
  // Execution: evaluated values; ok() / first() tell the caller whether to abort.
  ArgCheck() = default;

  // True at validation when `value` is a `{...}` expression (checked at execution instead).
  bool Deferred(const rapidjson::Value& value) const;
  void Add(std::string_view field, std::string problem);
  bool ok() const { return first_.empty(); }
  // "<problem>" of the first problem (execution: the abort text).
  const std::string& first() const { return first_; }

 private:
  int op_idx_ = -1;
  Problems* problems_ = nullptr;
  std::string first_;
};

// `value` as compact JSON text (for texts quoting values).
std::string Quoted(const rapidjson::Value& value);
std::string QuotedString(std::string_view text);

// A member of object `object`, or nullptr (absent or null).
const rapidjson::Value* Member(const rapidjson::Value& object, std::string_view name);

// A string attribute; absent: false and *out untouched. Wrong type: a problem.
bool ReadString(ArgCheck& check, const rapidjson::Value& object, std::string_view name,
                std::string_view field, std::string* out);
// `timeout` (seconds, number or decimal string, 0 < s <= kMaxTimeout) into *out; absent:
// `default_seconds`. *text is the JSON-number text ("0.5") for messages.
void ReadTimeout(ArgCheck& check, const rapidjson::Value& object, std::string_view field,
                 double default_seconds, MonoNs* out, std::string* text);
// `tls`: true/false or {"verify", "ca_file", "server_name"}. Sets *enabled.
void ReadTls(ArgCheck& check, const rapidjson::Value& object, std::string_view field,
             bool* enabled, TlsOptions* out);
// Checks that `value` (an `arguments` / `expect` attribute) is an object; absent is ok
// unless `required`. Returns the object, or nullptr.
const rapidjson::Value* ObjectAttribute(ArgCheck& check, const rapidjson::Value& op_json,
                                        std::string_view name, bool required);

// Evaluates template `slot` of `op` into `doc` (null when absent). False: aborted.
bool EvaluateSlot(Run& run, Instance& instance, const Op& op, Slot slot,
                  rapidjson::Document* doc);
// `mandatory` evaluated (false when absent). False return: aborted.
bool EvaluateMandatory(Run& run, Instance& instance, const Op& op, bool* mandatory);
// `mandatory` as given (validation): true, false or a `{...}` expression.
void ValidateMandatory(ArgCheck& check, const rapidjson::Value& op_json);

// Records one expectation. A fail is an abort when `mandatory`: then false is returned and
// the instance has ended.
bool Expectation(Run& run, Instance& instance, const Op& op, bool mandatory, bool passed,
                 std::string_view text);

// Sets i.<name> = `value` for the instance (its `i` table is created on first use), when
// any code of the run may read it (LuaSandbox::may_read_inbound). False: the Lua memory
// limit was hit and the instance aborted.
bool SetInbound(Run& run, Instance& instance, const Op& op, const char* name,
                const rapidjson::Value& value);

// Messages longer than this are traced by their first kMaxTracedMessageBytes bytes.
constexpr size_t kMaxTracedMessageBytes = 64 * 1024;

// Adds a message entry {"path": "<protocol>.<direction>", "protocol", "hex", "length"} to
// the first call's trace_log when trace_messages is on ("truncated": true when the hex holds
// only the first kMaxTracedMessageBytes of `length` bytes); returns it for readable fields
// (an empty EntryRef when nothing was logged).
TraceLog::EntryRef TraceMessage(Run& run, Instance& instance, const Op& op,
                                std::string_view protocol, bool to_sut, std::string_view bytes);

// The value at dotted `path` ("a.b.0.c"; array elements by 0-based index) in `root`, or
// nullptr.
const rapidjson::Value* AtPath(const rapidjson::Value& root, std::string_view path);

}  // namespace testrund::ops
