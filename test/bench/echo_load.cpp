// SPDX-License-Identifier: Apache-2.0
// echo_load: the reference of scenario 11 of the benchmarks (test/bench/bench.py). A bare
// libevent client doing what the tcp op's run does: N kept connections to an echo server
// (bufferevents), one message in flight on each (send it, wait for all its bytes back, send
// the next), for a fixed time. Prints one JSON line with the messages and its own CPU
// seconds (getrusage), so that both sides are compared per CPU-second.
//
//   echo_load --port P [--connections 50] [--seconds 3] [--bytes 32]
// Output: {"messages": n, "seconds": s, "cpu_seconds": c, "errors": e}
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace {

struct Options {
  int port = 0;
  int connections = 50;
  double seconds = 3;
  int bytes = 32;
};

struct Totals {
  uint64_t messages = 0;
  uint64_t errors = 0;
  bool stopping = false;
};

class EchoConnection {
 public:
  EchoConnection(event_base* base, const sockaddr_in& addr, const std::string& message,
                 Totals* totals)
      : message_(message), totals_(totals) {
    bev_ = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(bev_, &EchoConnection::OnRead, nullptr, &EchoConnection::OnEvent, this);
    // The read callback runs once a whole message is back.
    bufferevent_setwatermark(bev_, EV_READ, message_.size(), 0);
    bufferevent_enable(bev_, EV_READ | EV_WRITE);
    if (bufferevent_socket_connect(bev_, reinterpret_cast<const sockaddr*>(&addr),
                                   sizeof(addr)) != 0) {
      ++totals_->errors;
      return;
    }
    int one = 1;
    setsockopt(bufferevent_getfd(bev_), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    Send();
  }
  ~EchoConnection() { bufferevent_free(bev_); }
  EchoConnection(const EchoConnection&) = delete;
  EchoConnection& operator=(const EchoConnection&) = delete;

 private:
  void Send() { bufferevent_write(bev_, message_.data(), message_.size()); }

  static void OnRead(bufferevent* bev, void* arg) {
    auto* self = static_cast<EchoConnection*>(arg);
    evbuffer* in = bufferevent_get_input(bev);
    size_t size = self->message_.size();
    while (evbuffer_get_length(in) >= size) {
      evbuffer_drain(in, size);
      if (self->totals_->stopping) return;
      ++self->totals_->messages;
      self->Send();
    }
  }

  static void OnEvent(bufferevent*, short what, void* arg) {
    auto* self = static_cast<EchoConnection*>(arg);
    if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF)) {
      ++self->totals_->errors;
      bufferevent_disable(self->bev_, EV_READ | EV_WRITE);
    }
  }

  bufferevent* bev_ = nullptr;
  const std::string& message_;
  Totals* totals_;
};

bool ParseOptions(int argc, char** argv, Options* options) {
  for (int j = 1; j + 1 < argc; j += 2) {
    std::string name = argv[j];
    const char* value = argv[j + 1];
    if (name == "--port") options->port = std::atoi(value);
    else if (name == "--connections") options->connections = std::atoi(value);
    else if (name == "--seconds") options->seconds = std::atof(value);
    else if (name == "--bytes") options->bytes = std::atoi(value);
    else return false;
  }
  return argc % 2 == 1 && options->port > 0 && options->connections > 0 &&
         options->seconds > 0 && options->bytes > 0;
}

double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!ParseOptions(argc, argv, &options)) {
    std::fprintf(stderr, "usage: echo_load --port P [--connections N] [--seconds S] "
                         "[--bytes B]\n");
    return 64;
  }
  std::string message(static_cast<size_t>(options.bytes - 1), 'x');
  message += '\n';
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(options.port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  event_base* base = event_base_new();
  Totals totals;
  double cpu0 = CpuSeconds();
  auto start = std::chrono::steady_clock::now();
  std::vector<std::unique_ptr<EchoConnection>> connections;
  for (int j = 0; j < options.connections; ++j) {
    connections.push_back(std::make_unique<EchoConnection>(base, addr, message, &totals));
  }
  timeval limit{static_cast<time_t>(options.seconds),
                static_cast<suseconds_t>((options.seconds - static_cast<double>(
                    static_cast<time_t>(options.seconds))) * 1e6)};
  event_base_loopexit(base, &limit);
  event_base_dispatch(base);
  totals.stopping = true;
  double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double cpu = CpuSeconds() - cpu0;
  connections.clear();
  event_base_free(base);
  std::printf("{\"messages\": %llu, \"seconds\": %.6f, \"cpu_seconds\": %.6f, "
              "\"errors\": %llu}\n",
              static_cast<unsigned long long>(totals.messages), elapsed, cpu,
              static_cast<unsigned long long>(totals.errors));
  return totals.messages > 0 ? 0 : 1;
}
