// SPDX-License-Identifier: Apache-2.0
// PlainSocket: a connected plain (no TLS) TCP client socket that protocol ops read and write
// with system calls of their own, for the hot path of keep-alive traffic
// (docs/performance.md, scenarios 4 and 11). A bufferevent reads with an ioctl(FIONREAD)
// and a readv into an evbuffer, and arms and disarms its write event around every write;
// here one persistent read event stays armed for the socket's life, a read is one recv into
// the caller's buffer, and a write is one send, the write event armed only for bytes the
// kernel did not take at once.
//
// Connecting (name resolution, the non-blocking connect and its errors) stays with a
// bufferevent; once it reports BEV_EVENT_CONNECTED, TakeSocket moves its descriptor here.
#pragma once

#include <event2/bufferevent.h>
#include <event2/event.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "ops/base/event_handles.h"

namespace testrund::ops {

class PlainSocket {
 public:
  // `what`: EV_READ (readable, or closed, or failed: call Receive), EV_WRITE (the bytes Send
  // kept are all written, or writing failed: see error()), EV_TIMEOUT (the read timeout
  // set by SetReadTimeout passed with nothing to read).
  using Callback = void (*)(short what, void* arg);

  // Takes `fd` (connected, non-blocking) and arms its read event; closes it when destroyed.
  PlainSocket(event_base* base, evutil_socket_t fd, Callback callback, void* arg);
  ~PlainSocket();
  PlainSocket(const PlainSocket&) = delete;
  PlainSocket& operator=(const PlainSocket&) = delete;

  // The descriptor of a connected socket bufferevent, detached from it: the bufferevent
  // no longer watches it and will not close it. Call from its BEV_EVENT_CONNECTED callback;
  // freeing the bufferevent afterwards (even inside that callback) is safe.
  static evutil_socket_t TakeSocket(bufferevent* bev);

  // One recv into `into`: > 0 bytes read; 0: the peer closed its side; -1: nothing to read
  // now; -2: failed, *error = errno.
  ptrdiff_t Receive(char* into, size_t capacity, int* error);

  // Writes `bytes`: what the kernel takes at once, the rest (copied) when the socket is
  // writable. True: all of it was handed to the kernel now, and no callback follows. False:
  // the callback gets EV_WRITE from the loop once the rest is written or writing failed
  // (error() says which; a failure is never reported inside Send).
  bool Send(std::string_view bytes);
  // Bytes given to Send and not handed to the kernel yet.
  size_t unsent() const { return unsent_.size() - unsent_from_; }
  // errno of a failed send (0: none).
  int error() const { return error_; }
  // Stops and resumes watching for bytes (a full buffer, an end already seen).
  void StopReading() { event_del(read_.get()); }
  void ResumeReading() { event_add(read_.get(), nullptr); }
  // The read event also fires EV_TIMEOUT after `seconds` with nothing to read (0: never).
  void SetReadTimeout(int seconds);

 private:
  static void OnReadable(evutil_socket_t, short what, void* arg);
  static void OnWritable(evutil_socket_t, short what, void* arg);
  void WriteUnsent();

  evutil_socket_t fd_;
  Callback callback_;
  void* arg_;
  EventPtr read_;
  EventPtr write_;
  std::string unsent_;     // bytes the kernel did not take yet, from unsent_from_
  size_t unsent_from_ = 0;
  int error_ = 0;
  bool timeout_set_ = false;
};

// Why a socket operation failed, as abort texts quote it: "connection refused",
// "connection reset by peer", ... (the texts of SocketErrorText, client_socket.h).
std::string SocketErrnoText(int error);

}  // namespace testrund::ops
