// SPDX-License-Identifier: Apache-2.0
// The JSON-RPC error codes of docs/api.md#2-the-json-rpc-20-envelope as one table (code, name,
// default message), and RpcError, the value a handler returns instead of a result. Handlers never
// throw: every failure a client can cause is an RpcError.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <rapidjson/document.h>

namespace testrund::rpc {

// clang-format off: one line per origin reads better than one per code.
enum class ErrorCode : int {
  // JSON-RPC 2.0's own.
  kParseError = -32700, kInvalidRequest = -32600, kMethodNotFound = -32601,
  kInvalidParams = -32602, kInternalError = -32603,
  // The run methods' (docs/api.md#error-codes).
  kUnknownRun = -32001, kRunIdInUse = -32002, kNoSuchInstance = -32003,
  kInstanceNotHalted = -32004, kServerLimit = -32005, kInvalidRunState = -32006,
  // Authentication and roles.
  kAuthRequired = -32010, kRoleForbidden = -32011,
};
// clang-format on

struct ErrorInfo {
  ErrorCode code;
  std::string_view name;     // a stable identifier, e.g. "parse_error"
  std::string_view message;  // the default `message` when a call has nothing better to say
};

// docs/api.md's error table, in its order. Documentation and tests read this; do not duplicate it.
inline constexpr ErrorInfo kErrorTable[] = {
    {ErrorCode::kParseError, "parse_error", "Parse error"},
    {ErrorCode::kInvalidRequest, "invalid_request", "Invalid Request"},
    {ErrorCode::kMethodNotFound, "method_not_found", "Method not found"},
    {ErrorCode::kInvalidParams, "invalid_params", "Invalid params"},
    {ErrorCode::kInternalError, "internal_error", "Internal error"},
    {ErrorCode::kUnknownRun, "unknown_run", "Unknown run_id"},
    {ErrorCode::kRunIdInUse, "run_id_in_use", "run_id already in use"},
    {ErrorCode::kNoSuchInstance, "no_such_instance", "No such instance"},
    {ErrorCode::kInstanceNotHalted, "instance_not_halted", "Instance is not halted"},
    {ErrorCode::kServerLimit, "server_limit", "Server limit reached"},
    {ErrorCode::kInvalidRunState, "invalid_run_state", "Run is not in a state that allows this"},
    {ErrorCode::kAuthRequired, "auth_required", "Authentication required or token invalid"},
    {ErrorCode::kRoleForbidden, "role_forbidden", "Token's role may not call this method"},
};

constexpr int ToInt(ErrorCode code) { return static_cast<int>(code); }

// The table row for `code`; nullptr for a code that is not in the table.
constexpr const ErrorInfo* FindError(int code) {
  for (const ErrorInfo& e : kErrorTable) {
    if (ToInt(e.code) == code) return &e;
  }
  return nullptr;
}

// The default message for `code` ("Internal error" for a code not in the table).
constexpr std::string_view DefaultMessage(ErrorCode code) {
  const ErrorInfo* e = FindError(ToInt(code));
  return e != nullptr ? e->message : std::string_view("Internal error");
}

// An error a handler (or the dispatcher) answers with. `data`, when present, must live in
// the allocator of the MethodContext the handler was given (it is written, not copied).
struct RpcError {
  int code = ToInt(ErrorCode::kInternalError);
  std::string message;
  std::optional<rapidjson::Value> data;

  RpcError() = default;
  // The table's default message.
  explicit RpcError(ErrorCode c) : code(ToInt(c)), message(DefaultMessage(c)) {}
  RpcError(ErrorCode c, std::string msg) : code(ToInt(c)), message(std::move(msg)) {}
  RpcError(ErrorCode c, std::string msg, rapidjson::Value d)
      : code(ToInt(c)), message(std::move(msg)), data(std::move(d)) {}
  RpcError(RpcError&&) = default;
  RpcError& operator=(RpcError&&) = default;
};

}  // namespace testrund::rpc
