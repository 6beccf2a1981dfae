// SPDX-License-Identifier: Apache-2.0
// PlainSocket (see plain_socket.h).
#include "ops/net/plain_socket.h"

#include <sys/socket.h>

#include <cerrno>


namespace testrund::ops {

PlainSocket::PlainSocket(event_base* base, evutil_socket_t fd, Callback callback, void* arg)
    : fd_(fd), callback_(callback), arg_(arg) {
  read_.reset(event_new(base, fd_, EV_READ | EV_PERSIST, &PlainSocket::OnReadable, this));
  write_.reset(event_new(base, fd_, EV_WRITE | EV_PERSIST, &PlainSocket::OnWritable, this));
  event_add(read_.get(), nullptr);
}

PlainSocket::~PlainSocket() {
  // The events go first: epoll forgets a descriptor when it is closed, libevent must not
  // keep it in its tables.
  read_.reset();
  write_.reset();
  evutil_closesocket(fd_);
}

evutil_socket_t PlainSocket::TakeSocket(bufferevent* bev) {
  evutil_socket_t fd = bufferevent_getfd(bev);
  // Disabled first, so that the write callback in progress (the connect's) stops here.
  bufferevent_disable(bev, EV_READ | EV_WRITE);
  bufferevent_setfd(bev, -1);
  return fd;
}

ptrdiff_t PlainSocket::Receive(char* into, size_t capacity, int* error) {
  ssize_t n = recv(fd_, into, capacity, 0);
  if (n >= 0) return n;
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return -1;
  *error = errno;
  return -2;
}

bool PlainSocket::Send(std::string_view bytes) {
  if (error_ != 0) {
    event_active(write_.get(), EV_WRITE, 1);  // reported from the loop
    return false;
  }
  if (unsent() == 0) {
    ssize_t sent = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      error_ = errno;
      event_active(write_.get(), EV_WRITE, 1);  // reported from the loop
      return false;
    }
    size_t taken = sent > 0 ? static_cast<size_t>(sent) : 0;
    if (taken == bytes.size()) return true;
    bytes.remove_prefix(taken);
    unsent_.clear();
    unsent_from_ = 0;
  }
  unsent_.append(bytes);
  event_add(write_.get(), nullptr);
  return false;
}

void PlainSocket::SetReadTimeout(int seconds) {
  if (seconds > 0) {
    timeval tv{seconds, 0};
    event_add(read_.get(), &tv);
    timeout_set_ = true;
  } else if (timeout_set_) {
    event_remove_timer(read_.get());
    timeout_set_ = false;
  }
}

void PlainSocket::OnReadable(evutil_socket_t, short what, void* arg) {
  auto* self = static_cast<PlainSocket*>(arg);
  if (what & EV_TIMEOUT) {
    self->timeout_set_ = false;  // a persistent event's timeout re-arms: cleared by the owner
  }
  self->callback_(what & EV_READ ? EV_READ : EV_TIMEOUT, self->arg_);
}

void PlainSocket::OnWritable(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<PlainSocket*>(arg);
  if (self->error_ == 0 && self->unsent() > 0) self->WriteUnsent();
  if (self->error_ == 0 && self->unsent() > 0) return;  // the rest when writable again
  event_del(self->write_.get());
  self->callback_(EV_WRITE, self->arg_);
}

void PlainSocket::WriteUnsent() {
  ssize_t sent = send(fd_, unsent_.data() + unsent_from_, unsent(), MSG_NOSIGNAL | MSG_DONTWAIT);
  if (sent > 0) {
    unsent_from_ += static_cast<size_t>(sent);
    if (unsent() == 0) {
      unsent_.clear();
      unsent_from_ = 0;
    }
  } else if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
    error_ = errno;
  }
}

std::string SocketErrnoText(int error) {
  switch (error) {
    case ECONNREFUSED: return "connection refused";
    case ECONNRESET: return "connection reset by peer";
    case EPIPE: return "connection reset by peer (broken pipe)";
    case ETIMEDOUT: return "connection timed out";
    case EHOSTUNREACH: return "host unreachable";
    case ENETUNREACH: return "network unreachable";
    case 0: return "connection failed";
    default: return evutil_socket_error_to_string(error);
  }
}

}  // namespace testrund::ops
