// SPDX-License-Identifier: Apache-2.0
// What every protocol op (http, jsonrpc, tcp.*, udp.*) shares (docs/protocol-ops.md):
//   - ProtocolIo: the sockets and the in-flight call an instance holds (its InstanceIo), so
//     that cancelling or aborting the instance (which frees it) releases every descriptor
//     and timer, whatever the op was doing.
//   - PendingIo: one op's wait. Park() parks the instance (OpContext::ParkIo) and arms the
//     op's timeout; Complete() disarms it and hands the result to OpContext::FinishIo. When
//     the timeout fires first, OnTimeout() releases the op's sockets and the instance
//     aborts with the op's timeout text. A PendingIo is replaced by the next op's, never
//     freed inside its own callback.
//   - OpParts and ReadOp: an op's `arguments`, `expect` and `mandatory`, evaluated and read
//     by its family's reader — the same reader that checks the op as given at ExecuteTest
//     (ValidateWith), so the rules are written once. An op whose parts are all constant is
//     read once and kept (Op::prepared).
//   - Expectations, `i.<protocol>` tables, and trace entries of messages.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <rapidjson/document.h>

#include "ops/base/clock.h"
#include "ops/base/param_reader.h"
#include "ops/instance.h"
#include "ops/net/client_socket.h"
#include "ops/net/io_context.h"
#include "ops/run.h"  // OpContext and its inline accessors
#include "ops/program.h"
#include "ops/stats/trace_log.h"

namespace testrund::ops {

// Default timeout of http and jsonrpc (seconds), and the longest timeout of any op.
constexpr double kDefaultHttpTimeout = 10;
constexpr double kMaxTimeout = 3600;

class PendingIo {
 public:
  explicit PendingIo(const OpContext& ctx) : ctx_(ctx) {}
  virtual ~PendingIo();
  PendingIo(const PendingIo&) = delete;
  PendingIo& operator=(const PendingIo&) = delete;

  // Parks the instance until Complete() or the timeout; `timeout_text` is the abort text.
  void Park(MonoNs timeout, std::string timeout_text);
  // The op's I/O is over: `complete` runs as OpContext::FinishIo describes. At most once.
  void Complete(const std::function<bool()>& complete);
  bool finished() const { return finished_; }
  OpContext& ctx() { return ctx_; }
  // Seconds since the op parked (i.<protocol>.time).
  double Elapsed() const;

 protected:
  // The timeout fired: close the op's sockets (the instance then aborts).
  virtual void OnTimeout() = 0;

 private:
  void OnTimer();

  OpContext ctx_;
  std::unique_ptr<Timer> timer_;
  std::string timeout_text_;
  MonoNs parked_at_ = 0;
  bool finished_ = false;
};

// A socket an instance keeps from one op to the next (tcp.connect's stream, the UDP socket
// of udp.send / udp.receive: ops/protocol/op_tcp.cpp, op_udp.cpp).
class InstanceSocket {
 public:
  virtual ~InstanceSocket() = default;
};

struct ProtocolIo final : InstanceIo {
  std::unique_ptr<PendingIo> pending;   // the op in flight, or the last one (spent)
  std::unique_ptr<InstanceSocket> tcp;  // the instance's TCP connection, if any
  std::unique_ptr<InstanceSocket> udp;  // the instance's UDP socket, if any
  std::unique_ptr<InstanceSocket> sip;  // the instance's SIP dialog (ops/protocol/op_sip.cpp)
  ~ProtocolIo() override;
};

// The instance's ProtocolIo, created on first use.
ProtocolIo& IoOf(Instance& instance);
// The instance's ProtocolIo, or nullptr when no protocol op ran yet.
ProtocolIo* FindIo(Instance& instance);

// An op's `arguments`, `expect` (null when absent) and `mandatory`, as evaluated for an
// instance (or the op's constants). A family's parsed form derives from it, so that what it
// read may point into these documents.
struct OpParts {
  rapidjson::Document arguments;
  rapidjson::Document expect;
  bool mandatory = false;
};

// Reads `arguments` and `expect` into `out`. Used at ExecuteTest on the op as given
// (expressions deferred, ValidateWith) and when the op executes (ReadOp).
template <typename T>
using PartsReader = void (*)(ParamReader& arguments, ParamReader& expect, T* out);

// Evaluates the op's parts into `out` (*constant: every part was a constant). False: the
// instance has been aborted (an expression failed).
bool EvaluateParts(OpContext& ctx, OpParts* out, bool* constant);
// Checks the parts' shape and runs `read` on them; every problem goes to `problems`.
void ReadParts(const OpParts& parts, int op_idx, Problems* problems,
               const std::function<void(ParamReader&, ParamReader&)>& read);

// The op's parts read by `read`: once per op when they are all constant (kept in
// Op::prepared), else for this instance. nullptr: the instance has been aborted, with the
// first problem as its text.
template <typename T>
std::shared_ptr<const T> ReadOp(OpContext& ctx, PartsReader<T> read) {
  const Op& op = ctx.op();
  if (op.prepared) return std::static_pointer_cast<const T>(op.prepared);
  auto out = std::make_shared<T>();
  bool constant = false;
  if (!EvaluateParts(ctx, out.get(), &constant)) return nullptr;
  Problems problems;
  ReadParts(*out, op.idx, &problems,
            [&](ParamReader& arguments, ParamReader& expect) { read(arguments, expect, out.get()); });
  if (!problems.empty()) {
    ctx.Abort(problems.front().Text());
    return nullptr;
  }
  if (constant) op.prepared = out;
  return out;
}

// The OpValidator of a family whose reader is `Read`.
template <typename T, PartsReader<T> Read>
void ValidateWith(ParamReader& arguments, ParamReader& expect) {
  T ignored;
  Read(arguments, expect, &ignored);
}

// `timeout` (seconds, 0 < s <= kMaxTimeout) into *out, and its text ("0.5") into *text;
// absent: `default_seconds`.
void ReadTimeout(ParamReader& args, double default_seconds, MonoNs* out, std::string* text);
// `tls`: true/false or {"verify", "ca_file", "server_name"}. Sets *enabled.
void ReadTls(ParamReader& args, bool* enabled, TlsOptions* out);
// A string member; at validation a leading `\{` (an escaped brace of the definition) is
// unescaped, as the value will read once the op executes. Absent or wrong: nullopt (wrong: a
// problem).
std::optional<std::string> ReadLiteral(ParamReader& p, std::string_view name);

// Records one expectation. A fail is an abort when `mandatory`: then false is returned and
// the instance has ended.
bool Expectation(OpContext& ctx, bool mandatory, bool passed, std::string_view text);

// Sets i.<name> = `value` for the instance (its `i` table is created on first use), when
// any code of the run may read it (LuaSandbox::may_read_inbound). False: the Lua memory
// limit was hit and the instance aborted.
bool SetInbound(OpContext& ctx, const char* name, const rapidjson::Value& value);

// Messages longer than this are traced by their first kMaxTracedMessageBytes bytes.
constexpr size_t kMaxTracedMessageBytes = 64 * 1024;

// Adds a message entry {"path": "<protocol>.<direction>", "protocol", "hex", "length"} to
// the instance's trace log when trace_messages is on ("truncated": true when the hex holds
// only the first kMaxTracedMessageBytes of `length` bytes); returns it for readable fields
// (an empty EntryRef when nothing was logged).
TraceLog::EntryRef TraceMessage(OpContext& ctx, std::string_view protocol, bool to_sut,
                                std::string_view bytes);

// The value at dotted `path` ("a.b.0.c"; array elements by 0-based index) in `root`, or
// nullptr.
const rapidjson::Value* AtPath(const rapidjson::Value& root, std::string_view path);

// A member of `object` even when it is null (`expect.error_code: null` means something),
// or nullptr when absent or `object` is no object.
const rapidjson::Value* MemberOrNull(const rapidjson::Value& object, std::string_view name);

}  // namespace testrund::ops
