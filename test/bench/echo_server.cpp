// SPDX-License-Identifier: Apache-2.0
// echo_server: the peer of scenario 11 of the benchmarks (test/bench/bench.py). A bare epoll
// TCP server on 127.0.0.1 port 0, one thread, that writes back every byte it reads on every
// connection, doing no other work: the tcp op and the bare libevent client (echo_load) are
// measured against the same cheap peer.
//
//   echo_server
// Prints `listening on 127.0.0.1:PORT` on stdout, then serves until killed.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace {

constexpr int kMaxEvents = 64;
char buffer[64 * 1024];

int Listen() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(fd, 1024) != 0) {
    return -1;
  }
  return fd;
}

void Accept(int epoll, int listener) {
  while (true) {
    int fd = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK);
    if (fd < 0) return;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &ev);
  }
}

// Echoes what one readable connection has; closes it at its end or on an error. A reply
// the kernel does not take whole (never with one small message in flight) is dropped:
// this peer serves benchmarks, not arbitrary clients.
void Echo(int fd) {
  ssize_t n = read(fd, buffer, sizeof(buffer));
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0 || send(fd, buffer, static_cast<size_t>(n), MSG_NOSIGNAL) < 0) close(fd);
}

}  // namespace

int main() {
  int listener = Listen();
  int epoll = epoll_create1(0);
  if (listener < 0 || epoll < 0) {
    std::fprintf(stderr, "echo_server: cannot listen on 127.0.0.1:0\n");
    return 1;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = listener;
  epoll_ctl(epoll, EPOLL_CTL_ADD, listener, &ev);
  sockaddr_in addr{};
  socklen_t len = sizeof(addr);
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  std::printf("listening on 127.0.0.1:%d\n", ntohs(addr.sin_port));
  std::fflush(stdout);
  epoll_event events[kMaxEvents];
  while (true) {
    int n = epoll_wait(epoll, events, kMaxEvents, -1);
    for (int k = 0; k < n; ++k) {
      if (events[k].data.fd == listener) {
        Accept(epoll, listener);
      } else {
        Echo(events[k].data.fd);
      }
    }
  }
}
