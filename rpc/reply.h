// SPDX-License-Identifier: Apache-2.0
// Reply: how a deferred method (rpc/methods.h) answers its request after its handler has
// returned, e.g. once a coordinator's workers have answered (docs/scale-out.md). The
// dispatcher keeps the request's body and allocator alive until every Reply of the body has
// been sent, then hands the response to the transport's ResponseSink (rpc/dispatcher.h).
#pragma once

#include <cstddef>
#include <memory>
#include <utility>

#include "rpc/methods.h"

namespace testrund::rpc {

// What a Reply completes: one request slot of a body the dispatcher holds. Implemented by
// the dispatcher only.
class ReplyTarget {
 public:
  virtual ~ReplyTarget() = default;
  virtual Allocator& allocator() = 0;
  virtual void Complete(size_t slot, Outcome outcome) = 0;
};

class Reply {
 public:
  Reply(std::shared_ptr<ReplyTarget> target, size_t slot)
      : target_(std::move(target)), slot_(slot) {}
  Reply(Reply&&) noexcept = default;
  Reply& operator=(Reply&& other) noexcept {
    if (this != &other) {
      Drop();
      target_ = std::move(other.target_);
      slot_ = other.slot_;
    }
    return *this;
  }
  Reply(const Reply&) = delete;
  Reply& operator=(const Reply&) = delete;
  // A Reply destroyed unsent answers -32603, so that no client waits for ever.
  ~Reply() { Drop(); }

  // The allocator the result (and RpcError::data) must be built in. Only before Send.
  Allocator& allocator() const { return target_->allocator(); }

  // Answers the request; at most once. When the client has left meanwhile the answer is
  // dropped. May call the transport's ResponseSink (the whole body answered) before it
  // returns. Must not be called after the dispatcher is destroyed.
  void Send(Outcome outcome) {
    std::shared_ptr<ReplyTarget> target = std::move(target_);
    if (target) target->Complete(slot_, std::move(outcome));
  }
  bool sent() const { return target_ == nullptr; }

 private:
  void Drop() {
    if (target_) Send(RpcError(ErrorCode::kInternalError, "Internal error: request dropped"));
  }

  std::shared_ptr<ReplyTarget> target_;
  size_t slot_ = 0;
};

}  // namespace testrund::rpc
