// SPDX-License-Identifier: Apache-2.0
// The JSON-RPC 2.0 envelope (docs/api.md#2-the-json-rpc-20-envelope): one parse per body into one
// document, request validation, notifications, batches, ids echoed as they came, authorisation by
// role, and responses written straight into one reused buffer.
#include "rpc/dispatcher.h"

#include "ops/base/json_writer.h"

#include <cstring>
#include <deque>
#include <memory>
#include <exception>
#include <new>
#include <utility>

#include <fmt/format.h>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "rpc/errors.h"
#include "rpc/json_parse.h"
#include "rpc/methods.h"
#include "rpc/params.h"
#include "rpc/reply.h"

namespace testrund::rpc {
namespace {

// The first chunk of every request's memory pool; most requests fit and allocate nothing.
constexpr size_t kArenaBytes = 16 * 1024;
// A response buffer grown past this by one big answer is released afterwards.
constexpr size_t kKeepOutputBytes = 1 << 20;
// Once a batch's responses hold this much, its later requests are not executed but answered
// -32005: a 16 MiB batch of QueryTests could otherwise ask for terabytes of output.
constexpr size_t kMaxBatchResponseBytes = 64u << 20;

using JsonWriter = ops::JsonWriter;

std::string_view View(const rapidjson::Value& s) {
  return std::string_view(s.GetString(), s.GetStringLength());
}


// The parts of a request object the envelope reads, found in one pass over its members.
struct RequestFields {
  const rapidjson::Value* jsonrpc = nullptr;
  const rapidjson::Value* method = nullptr;
  const rapidjson::Value* params = nullptr;
  const rapidjson::Value* id = nullptr;
  const rapidjson::Value* auth = nullptr;
};

bool KeyIs(const rapidjson::Value& key, std::string_view name) {
  return key.GetStringLength() == name.size() &&
         std::memcmp(key.GetString(), name.data(), name.size()) == 0;
}

// Duplicate members: the first one counts, as with FindMember.
RequestFields ReadFields(const rapidjson::Value& request) {
  RequestFields f;
  for (const auto& m : request.GetObject()) {
    const rapidjson::Value** slot = nullptr;
    switch (m.name.GetStringLength()) {
      case 2:
        if (KeyIs(m.name, "id")) slot = &f.id;
        break;
      case 4:
        if (KeyIs(m.name, "auth")) slot = &f.auth;
        break;
      case 6:
        if (KeyIs(m.name, "method")) {
          slot = &f.method;
        } else if (KeyIs(m.name, "params")) {
          slot = &f.params;
        }
        break;
      case 7:
        if (KeyIs(m.name, "jsonrpc")) slot = &f.jsonrpc;
        break;
      default:
        break;
    }
    if (slot != nullptr && *slot == nullptr) *slot = &m.value;
  }
  return f;
}

bool ValidId(const rapidjson::Value& id) {
  return id.IsString() || id.IsNumber() || id.IsNull();
}

// Writes response objects into one buffer: a lone response, or the elements of a batch's
// array (opened by the first response, so that a batch of notifications writes nothing).
class ResponseWriter {
 public:
  ResponseWriter(rapidjson::StringBuffer& out, JsonWriter& writer, bool batch)
      : out_(out), writer_(writer), batch_(batch) {}

  // `id` nullptr writes id null.
  void Result(const rapidjson::Value& result, const rapidjson::Value* id) {
    Begin();
    size_t mark = out_.GetSize();
    Raw(R"({"jsonrpc":"2.0","result":)");
    if (!Value(result)) {
      // Only NaN or infinity in a result gets here: a handler bug, not the client's.
      out_.Pop(out_.GetSize() - mark);
      Error(ToInt(ErrorCode::kInternalError),
            "Internal error: the result could not be written as JSON", nullptr, id, false);
      return;
    }
    Raw(R"(,"id":)");
    Id(id);
    Raw("}");
  }

  void Error(int code, std::string_view message, const rapidjson::Value* data,
             const rapidjson::Value* id, bool begin = true) {
    if (begin) Begin();
    Raw(R"({"jsonrpc":"2.0","error":{"code":)");
    writer_.Reset(out_);
    writer_.Int(code);
    Raw(R"(,"message":)");
    Message(message);
    if (data != nullptr) {
      size_t mark = out_.GetSize();
      Raw(R"(,"data":)");
      if (!Value(*data)) out_.Pop(out_.GetSize() - mark);  // NaN/inf: drop the details
    }
    Raw(R"(},"id":)");
    Id(id);
    Raw("}");
  }

  void Error(const RpcError& e, const rapidjson::Value* id) {
    Error(e.code, e.message, e.data ? &*e.data : nullptr, id);
  }

  void Finish() {
    if (batch_ && count_ > 0) Raw("]");
  }
  size_t count() const { return count_; }

  // A batch whose responses reached kMaxBatchResponseBytes.
  bool Full() const { return batch_ && out_.GetSize() >= kMaxBatchResponseBytes; }

 private:
  void Begin() {
    if (batch_) Raw(count_ == 0 ? "[" : ",");
    ++count_;
  }
  void Raw(std::string_view s) { std::memcpy(out_.Push(s.size()), s.data(), s.size()); }
  bool Value(const rapidjson::Value& v) {
    writer_.Reset(out_);
    return v.Accept(writer_);
  }
  void Id(const rapidjson::Value* id) {
    if (id == nullptr) {
      Raw("null");
    } else {
      Value(*id);
    }
  }
  // Messages may quote outside text (a Lua error, a peer's bytes): the writer keeps the
  // output UTF-8 by writing ill-formed bytes as U+FFFD.
  void Message(std::string_view message) {
    writer_.Reset(out_);
    writer_.String(message.data(), static_cast<rapidjson::SizeType>(message.size()));
  }

  rapidjson::StringBuffer& out_;
  JsonWriter& writer_;
  bool batch_;
  size_t count_ = 0;
};

// Where a request of a deferred row goes: the body that waits for its Reply.
class Deferral {
 public:
  virtual ~Deferral() = default;
  // The request's slot waits; the Reply that completes it.
  virtual Reply Wait(const rapidjson::Value* id, bool notification,
                     std::string_view counted) = 0;
};

// One request object of a body (the whole body, or one element of a batch).
class RequestHandler {
 public:
  // `deferral` nullptr: the table has no deferred rows.
  RequestHandler(const MethodTable& methods, const TokenLookup& lookup, const Caller& caller,
                 Allocator& allocator, ResponseWriter& responses, CallCounts& calls,
                 Deferral* deferral = nullptr)
      : methods_(methods),
        lookup_(lookup),
        caller_(caller),
        allocator_(allocator),
        responses_(responses),
        calls_(calls),
        deferral_(deferral) {}

  void Handle(const rapidjson::Value& request) {
    if (!request.IsObject()) {
      return Invalid("Invalid Request: a request must be an object", nullptr);
    }
    RequestFields f = ReadFields(request);
    // A request with an unreadable id is answered with id null (JSON-RPC 2.0 §5).
    const rapidjson::Value* id = f.id;
    if (id != nullptr && !ValidId(*id)) {
      return Invalid("Invalid Request: \"id\" must be a string, a number or null", nullptr);
    }
    if (f.jsonrpc == nullptr || !f.jsonrpc->IsString() || View(*f.jsonrpc) != "2.0") {
      return Invalid("Invalid Request: \"jsonrpc\" must be exactly \"2.0\"", id);
    }
    if (f.method == nullptr || !f.method->IsString()) {
      return Invalid("Invalid Request: \"method\" must be a string", id);
    }
    // From here the request is valid: without an id it is a notification, run but never
    // answered, even when it fails.
    notification_ = id == nullptr;
    std::string_view name = View(*f.method);
    const Method* method = methods_.Find(name);
    counted_ = method != nullptr ? name : CallCounts::kUnknownMethod;

    Role role = CallerRole(f.auth);
    if (role == Role::kNone) {
      return Fail(RpcError(ErrorCode::kAuthRequired), id);
    }
    if (method == nullptr) {
      return Fail(RpcError(ErrorCode::kMethodNotFound,
                           fmt::format("Method not found: \"{}\"", name)),
                  id);
    }
    if (!RoleAllows(role, method->required)) {
      return Fail(RpcError(ErrorCode::kRoleForbidden,
                           fmt::format("{} ({} may not call {})",
                                       DefaultMessage(ErrorCode::kRoleForbidden),
                                       RoleName(role), name)),
                  id);
    }

    if (responses_.Full()) {
      return Fail(RpcError(ErrorCode::kServerLimit,
                           fmt::format("{}: the batch's responses are over {} bytes; request "
                                       "not executed",
                                       DefaultMessage(ErrorCode::kServerLimit),
                                       kMaxBatchResponseBytes)),
                  id);
    }

    rapidjson::Value empty(rapidjson::kObjectType);
    const rapidjson::Value* params = &empty;
    if (f.params != nullptr && !(f.params->IsArray() && f.params->Empty())) {
      if (!f.params->IsObject()) return BadParamsShape(*f.params, id);
      params = f.params;
    }

    MethodContext ctx{allocator_, methods_.state(), role};
    if (method->deferred != nullptr) return Defer(*method->deferred, *params, ctx, id);
    try {
      Outcome outcome = method->handler(*params, ctx);
      calls_.Add(counted_, outcome.ok() ? 0 : outcome.error().code);
      if (notification_) return;
      if (outcome.ok()) {
        responses_.Result(outcome.result(), id);
      } else {
        responses_.Error(outcome.error(), id);
      }
    } catch (const std::exception& e) {
      // Handlers must not throw; if one does (bad_alloc), the daemon still answers.
      Fail(RpcError(ErrorCode::kInternalError, fmt::format("Internal error: {}", e.what())),
           id);
    }
  }

 private:
  void Defer(const DeferredHandler& handler, const rapidjson::Value& params,
             MethodContext& ctx, const rapidjson::Value* id) {
    if (deferral_ == nullptr) {
      return Fail(RpcError(ErrorCode::kInternalError, "Internal error: deferred method"), id);
    }
    Reply reply = deferral_->Wait(id, notification_, counted_);
    try {
      handler(params, ctx, std::move(reply));
    } catch (const std::exception& e) {
      // The reply (if the handler had not sent it) answered -32603 as it was destroyed.
    }
  }

  Role CallerRole(const rapidjson::Value* auth) const {
    if (!caller_.auth_required) return Role::kOperator;
    if (caller_.role.has_value()) return *caller_.role;
    if (auth == nullptr || !auth->IsString() || !lookup_) return Role::kNone;
    return lookup_(View(*auth)).value_or(Role::kNone);
  }

  // Invalid requests are always answered: there is no telling whether one meant to be a
  // notification.
  void Invalid(std::string_view message, const rapidjson::Value* id) {
    calls_.Add(CallCounts::kInvalidRequest, ToInt(ErrorCode::kInvalidRequest));
    responses_.Error(ToInt(ErrorCode::kInvalidRequest), message, nullptr, id);
  }

  void Fail(const RpcError& error, const rapidjson::Value* id) {
    calls_.Add(counted_, error.code);
    if (!notification_) responses_.Error(error, id);
  }

  void BadParamsShape(const rapidjson::Value& params, const rapidjson::Value* id) {
    calls_.Add(counted_, ToInt(ErrorCode::kInvalidParams));
    if (notification_) return;
    std::string problem = params.IsArray()
                              ? "must be an object (by-name); positional params are not supported"
                              : "must be an object, got " + ops::QuoteValue(params);
    responses_.Error(InvalidParams({{-1, "params", std::move(problem)}}, allocator_), id);
  }

  const MethodTable& methods_;
  const TokenLookup& lookup_;
  const Caller& caller_;
  Allocator& allocator_;
  ResponseWriter& responses_;
  CallCounts& calls_;
  Deferral* deferral_;
  bool notification_ = false;
  std::string_view counted_ = CallCounts::kInvalidRequest;  // the method name calls_ counts
};

}  // namespace

// A body of a table with deferred rows: it owns its document (ids and params point into it)
// and one response buffer per request, written when that request is answered; the
// response is assembled in request order once none waits.
class PendingResponse::Body final : public ReplyTarget,
                                    public Deferral,
                                    public std::enable_shared_from_this<Body> {
 public:
  explicit Body(CallCounts& calls) : doc_(&allocator_), writer_(scratch_), calls_(calls) {}

  rapidjson::Document& doc() { return doc_; }
  Allocator& allocator() override { return allocator_; }

  // The next request's response buffer (a request answered at once writes into it).
  ResponseWriter NextSlot() {
    slots_.emplace_back();
    return ResponseWriter(slots_.back().out, writer_, false);
  }

  Reply Wait(const rapidjson::Value* id, bool notification, std::string_view counted) override {
    Slot& slot = slots_.back();
    slot.id = id;
    slot.notification = notification;
    slot.counted = counted;
    slot.waiting = true;
    ++waiting_;
    return Reply(shared_from_this(), slots_.size() - 1);
  }

  void Complete(size_t index, Outcome outcome) override {
    Slot& slot = slots_[index];
    if (!slot.waiting) return;
    slot.waiting = false;
    --waiting_;
    calls_.Add(slot.counted, outcome.ok() ? 0 : outcome.error().code);
    if (!slot.notification) {
      ResponseWriter responses(slot.out, writer_, false);
      if (outcome.ok()) {
        responses.Result(outcome.result(), slot.id);
      } else {
        responses.Error(outcome.error(), slot.id);
      }
    }
    if (waiting_ == 0 && sink_ != nullptr) {
      ResponseSink* sink = sink_;
      sink_ = nullptr;
      sink->OnResponse(Assemble());
    }
  }

  bool waiting() const { return waiting_ > 0; }
  void set_batch(bool batch) { batch_ = batch; }
  void Attach(ResponseSink* sink) { sink_ = sink; }

  // The body's response: the lone one, or the batch's array of those written.
  std::optional<std::string> Assemble() const {
    std::string out;
    for (const Slot& slot : slots_) {
      if (slot.out.GetSize() == 0) continue;
      out += out.empty() ? (batch_ ? "[" : "") : ",";
      out.append(slot.out.GetString(), slot.out.GetSize());
    }
    if (out.empty()) return std::nullopt;
    if (batch_) out += "]";
    return out;
  }

 private:
  struct Slot {
    const rapidjson::Value* id = nullptr;
    bool notification = false;
    bool waiting = false;
    std::string_view counted;
    rapidjson::StringBuffer out;
  };

  Allocator allocator_;
  rapidjson::Document doc_;
  rapidjson::StringBuffer scratch_;  // the writer's initial stream; every use Resets it
  JsonWriter writer_;
  CallCounts& calls_;
  std::deque<Slot> slots_;  // a deque: a Slot's buffer does not move
  size_t waiting_ = 0;
  bool batch_ = false;
  ResponseSink* sink_ = nullptr;
};

PendingResponse::PendingResponse(std::shared_ptr<Body> body) : body_(std::move(body)) {}
PendingResponse::PendingResponse(PendingResponse&&) noexcept = default;
PendingResponse& PendingResponse::operator=(PendingResponse&& other) noexcept {
  if (this != &other) {
    if (body_) body_->Attach(nullptr);
    body_ = std::move(other.body_);
  }
  return *this;
}
PendingResponse::~PendingResponse() {
  if (body_) body_->Attach(nullptr);
}

struct Dispatcher::Buffers {
  Buffers() : arena(new char[kArenaBytes]), writer(out) {}
  std::unique_ptr<char[]> arena;
  rapidjson::StringBuffer out;
  JsonWriter writer;
};

Dispatcher::Dispatcher(const MethodTable& methods, DispatchLimits limits, TokenLookup lookup)
    : methods_(methods),
      limits_(limits),
      lookup_(std::move(lookup)),
      buffers_(std::make_unique<Buffers>()) {}

Dispatcher::~Dispatcher() = default;

std::optional<std::string> Dispatcher::Handle(std::string_view body, const Caller& caller) {
  try {
    Buffers& b = *buffers_;
    b.out.Clear();
    Allocator allocator(b.arena.get(), kArenaBytes);
    rapidjson::Document doc(&allocator);
    std::string parse_error = ParseJson(body, limits_.max_json_depth, doc);
    if (!parse_error.empty()) {
      calls_.Add(CallCounts::kParseError, ToInt(ErrorCode::kParseError));
      return ErrorResponse(ErrorCode::kParseError, "Parse error: " + parse_error);
    }

    bool batch = doc.IsArray();
    ResponseWriter responses(b.out, b.writer, batch);
    if (!batch) {
      RequestHandler(methods_, lookup_, caller, allocator, responses, calls_).Handle(doc);
    } else if (doc.Empty()) {
      // An empty batch is one error, not an empty array (JSON-RPC 2.0 §6).
      calls_.Add(CallCounts::kInvalidRequest, ToInt(ErrorCode::kInvalidRequest));
      ResponseWriter single(b.out, b.writer, false);
      single.Error(ToInt(ErrorCode::kInvalidRequest), "Invalid Request: empty batch", nullptr,
                   nullptr);
      return std::string(b.out.GetString(), b.out.GetSize());
    } else {
      for (const rapidjson::Value& request : doc.GetArray()) {
        RequestHandler(methods_, lookup_, caller, allocator, responses, calls_).Handle(request);
      }
    }
    responses.Finish();
    if (responses.count() == 0) return std::nullopt;
    std::string response(b.out.GetString(), b.out.GetSize());
    if (b.out.GetSize() > kKeepOutputBytes) {
      b.out.Clear();
      b.out.ShrinkToFit();
    }
    return response;
  } catch (...) {
    // Out of memory somewhere outside a handler. Try to say so; give up quietly if even
    // that fails.
    try {
      return ErrorResponse(ErrorCode::kInternalError, "Internal error: out of memory");
    } catch (...) {
      return std::nullopt;
    }
  }
}

Answer Dispatcher::Handle(std::string_view body, const Caller& caller, ResponseSink& sink) {
  // The daemon's own table has no deferred rows: its path stays the one above.
  if (!methods_.has_deferred()) return Answer{Handle(body, caller), PendingResponse()};
  try {
    return HandleDeferrable(body, caller, sink);
  } catch (...) {
    try {
      return Answer{ErrorResponse(ErrorCode::kInternalError, "Internal error: out of memory"),
                    PendingResponse()};
    } catch (...) {
      return Answer{};
    }
  }
}

Answer Dispatcher::HandleDeferrable(std::string_view text, const Caller& caller,
                                    ResponseSink& sink) {
  auto body = std::make_shared<PendingResponse::Body>(calls_);
  rapidjson::Document& doc = body->doc();
  std::string parse_error = ParseJson(text, limits_.max_json_depth, doc);
  if (!parse_error.empty()) {
    calls_.Add(CallCounts::kParseError, ToInt(ErrorCode::kParseError));
    return Answer{ErrorResponse(ErrorCode::kParseError, "Parse error: " + parse_error),
                  PendingResponse()};
  }
  if (doc.IsArray() && doc.Empty()) {
    calls_.Add(CallCounts::kInvalidRequest, ToInt(ErrorCode::kInvalidRequest));
    return Answer{ErrorResponse(ErrorCode::kInvalidRequest, "Invalid Request: empty batch"),
                  PendingResponse()};
  }
  body->set_batch(doc.IsArray());
  auto handle = [&](const rapidjson::Value& request) {
    ResponseWriter responses = body->NextSlot();
    RequestHandler(methods_, lookup_, caller, body->allocator(), responses, calls_, body.get())
        .Handle(request);
  };
  if (doc.IsArray()) {
    for (const rapidjson::Value& request : doc.GetArray()) handle(request);
  } else {
    handle(doc);
  }
  if (!body->waiting()) return Answer{body->Assemble(), PendingResponse()};
  body->Attach(&sink);
  return Answer{std::nullopt, PendingResponse(std::move(body))};
}

std::string Dispatcher::ErrorResponse(ErrorCode code, std::string_view message) {
  rapidjson::StringBuffer out;
  JsonWriter writer(out);
  ResponseWriter responses(out, writer, false);
  responses.Error(ToInt(code), message, nullptr, nullptr);
  return std::string(out.GetString(), out.GetSize());
}

}  // namespace testrund::rpc
