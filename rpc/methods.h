// SPDX-License-Identifier: Apache-2.0
// The method table: one row {name, required role, handler} per JSON-RPC method, and what a
// handler sees (MethodContext) and returns (Outcome). The dispatcher owns the envelope; a
// handler only turns an object of params into a result or an RpcError, and never throws.
//
// Adding a method is one row in kDefaultMethods (methods.cpp) plus its handler function.
//
// A coordinator's methods (docs/scale-out.md) answer only after its workers have: their rows
// hold a DeferredHandler, which gets a Reply (rpc/reply.h) to answer through later.
#pragma once

#include <deque>
#include <memory>

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>

#include <rapidjson/document.h>

#include "ops/base/clock.h"
#include "rpc/errors.h"
#include "rpc/role.h"

namespace testrund::ops {
class RunRegistry;
}

namespace testrund::rpc {

using Allocator = rapidjson::Document::AllocatorType;

// What the handlers work on. The daemon owns it and fills it before serving; tests fill
// what they use. Borrowed by the table and every handler.
struct ServerState {
  ops::RunRegistry* runs = nullptr;  // the engine; nullptr only in tests of the envelope
  ops::WallTime time_start;          // when the daemon started (GetServerInfo)
};

// What one handler call may use. `allocator` is the response's allocator: results and
// RpcError::data must be built in it (they are written after the handler returns, not
// copied). It lives until the response has been written.
struct MethodContext {
  Allocator& allocator;
  ServerState& server;
  Role role;  // the caller's role (already checked against the method's row)
};

// A handler's answer: a result value built in the context's allocator, or an RpcError.
class [[nodiscard]] Outcome {
 public:
  Outcome(rapidjson::Value result) : v_(std::move(result)) {}  // NOLINT: implicit by design
  Outcome(RpcError error) : v_(std::move(error)) {}              // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  rapidjson::Value& result() { return std::get<0>(v_); }
  RpcError& error() { return std::get<1>(v_); }

 private:
  std::variant<rapidjson::Value, RpcError> v_;
};

// `params` is always an object: the dispatcher turns an omitted `params` or `[]` into `{}`
// and answers -32602 itself for every other non-object. Read it with ops::ParamReader
// (ops/base/param_reader.h).
using Handler = Outcome (*)(const rapidjson::Value& params, MethodContext& ctx);

class Reply;  // rpc/reply.h
// A handler that answers through `reply`, now or from a later loop callback. `params` and
// `ctx` are valid during the call only (copy what is needed later); the result must be built
// in reply.allocator() (the same as ctx.allocator), which lives until the reply is sent.
using DeferredHandler =
    std::function<void(const rapidjson::Value& params, MethodContext& ctx, Reply reply)>;

struct Method {
  std::string_view name;  // must outlive the table (a literal)
  Role required;          // kObserver: observers and operators; kOperator: operators only
  Handler handler;        // nullptr in a deferred row
  const DeferredHandler* deferred = nullptr;  // owned by the table; set by AddDeferred
};

class MethodTable {
 public:
  // `state` is borrowed and must outlive the table.
  explicit MethodTable(ServerState& state) : state_(&state) {}
  MethodTable(MethodTable&&) = default;  // a deque's elements stay where they are
  MethodTable& operator=(MethodTable&&) = default;

  // Adds a row. Returns false (and changes nothing) when the name is already taken or the
  // row has no handler.
  bool Add(const Method& method);
  // Adds a deferred row (its handler kept by the table). False when the name is taken or
  // `handler` is empty.
  bool AddDeferred(std::string_view name, Role required, DeferredHandler handler);
  // Whether any row is deferred: the dispatcher then keeps every body until it is answered.
  bool has_deferred() const { return !deferred_.empty(); }
  // The row for `name`, or nullptr. The pointer stays valid until the next Add.
  const Method* Find(std::string_view name) const;
  size_t size() const { return rows_.size(); }

  ServerState& state() const { return *state_; }

 private:
  ServerState* state_;
  std::unordered_map<std::string_view, Method> rows_;
  std::deque<DeferredHandler> deferred_;  // a deque: rows point into it
};

// The daemon's table: every method of docs/api.md#3-methods that is implemented, with its role
// (observers may call QueryTest, ListTests and GetServerInfo only). `state` is borrowed and
// must outlive the table.
MethodTable BuildDefaultMethods(ServerState& state);

// Whether a caller with role `caller` may call a method that requires `required`.
constexpr bool RoleAllows(Role caller, Role required) {
  if (caller == Role::kNone) return false;
  return required != Role::kOperator || caller == Role::kOperator;
}

}  // namespace testrund::rpc
