// SPDX-License-Identifier: Apache-2.0
// rpc_load: a small, fast keep-alive HTTP/1.1 load generator for the benchmarks
// (test/bench/bench.py, scenario 6). N connections each POST the same body, one request in
// flight per connection, for a fixed time; prints one JSON line with the calls per second.
// Python cannot generate this load: the client must not be slower than the server it
// measures.
//
//   rpc_load --port P [--host 127.0.0.1] [--connections 50] [--seconds 3]
//            [--body JSON] [--token T]
// Output: {"calls": n, "seconds": s, "per_second": r, "errors": e, "response_bytes": b}
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <strings.h>
#include <vector>

namespace {

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  int connections = 50;
  double seconds = 3;
  std::string body = R"({"jsonrpc":"2.0","method":"GetServerInfo","id":1})";
  std::string token;
};

struct Totals {
  uint64_t calls = 0;
  uint64_t errors = 0;
  size_t response_bytes = 0;
  bool stopping = false;
};

class LoadConnection {
 public:
  LoadConnection(event_base* base, const sockaddr_in& addr, const std::string& request,
                 Totals* totals)
      : request_(request), totals_(totals) {
    bev_ = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(bev_, &LoadConnection::OnRead, nullptr, &LoadConnection::OnEvent, this);
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
  ~LoadConnection() { bufferevent_free(bev_); }
  LoadConnection(const LoadConnection&) = delete;
  LoadConnection& operator=(const LoadConnection&) = delete;

 private:
  void Send() { bufferevent_write(bev_, request_.data(), request_.size()); }

  // Consumes every complete response in the input; one request follows each.
  static void OnRead(bufferevent* bev, void* arg) {
    auto* self = static_cast<LoadConnection*>(arg);
    evbuffer* in = bufferevent_get_input(bev);
    while (true) {
      evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, nullptr);
      if (end.pos < 0) return;
      size_t head_len = static_cast<size_t>(end.pos) + 4;
      std::string head(reinterpret_cast<const char*>(evbuffer_pullup(in, head_len)), head_len);
      size_t body_len = ContentLength(head);
      if (evbuffer_get_length(in) < head_len + body_len) return;
      bool ok = head.compare(0, 12, "HTTP/1.1 200") == 0;
      evbuffer_drain(in, head_len + body_len);
      if (self->totals_->stopping) return;
      if (ok) {
        ++self->totals_->calls;
        self->totals_->response_bytes = body_len;
      } else {
        ++self->totals_->errors;
      }
      self->Send();
    }
  }

  static size_t ContentLength(const std::string& head) {
    size_t pos = 0;
    while ((pos = head.find("\r\n", pos)) != std::string::npos) {
      pos += 2;
      if (strncasecmp(head.c_str() + pos, "content-length:", 15) == 0) {
        return std::strtoul(head.c_str() + pos + 15, nullptr, 10);
      }
    }
    return 0;
  }

  static void OnEvent(bufferevent*, short what, void* arg) {
    auto* self = static_cast<LoadConnection*>(arg);
    if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF)) {
      ++self->totals_->errors;
      bufferevent_disable(self->bev_, EV_READ | EV_WRITE);
    }
  }

  bufferevent* bev_ = nullptr;
  const std::string& request_;
  Totals* totals_;
};

bool ParseOptions(int argc, char** argv, Options* options) {
  for (int j = 1; j + 1 < argc; j += 2) {
    std::string name = argv[j];
    const char* value = argv[j + 1];
    if (name == "--host") options->host = value;
    else if (name == "--port") options->port = std::atoi(value);
    else if (name == "--connections") options->connections = std::atoi(value);
    else if (name == "--seconds") options->seconds = std::atof(value);
    else if (name == "--body") options->body = value;
    else if (name == "--token") options->token = value;
    else return false;
  }
  return argc % 2 == 1 && options->port > 0 && options->connections > 0 &&
         options->seconds > 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!ParseOptions(argc, argv, &options)) {
    std::fprintf(stderr, "usage: rpc_load --port P [--host H] [--connections N] "
                         "[--seconds S] [--body JSON] [--token T]\n");
    return 64;
  }
  std::string request = "POST / HTTP/1.1\r\nHost: " + options.host +
                        "\r\nContent-Type: application/json\r\nContent-Length: " +
                        std::to_string(options.body.size()) + "\r\n";
  if (!options.token.empty()) request += "Authorization: Bearer " + options.token + "\r\n";
  request += "\r\n" + options.body;

  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(options.port));
  if (inet_pton(AF_INET, options.host.c_str(), &addr.sin_addr) != 1) {
    std::fprintf(stderr, "rpc_load: bad --host %s\n", options.host.c_str());
    return 64;
  }
  event_base* base = event_base_new();
  Totals totals;
  std::vector<std::unique_ptr<LoadConnection>> connections;
  for (int j = 0; j < options.connections; ++j) {
    connections.push_back(std::make_unique<LoadConnection>(base, addr, request, &totals));
  }
  auto start = std::chrono::steady_clock::now();
  timeval limit{static_cast<time_t>(options.seconds),
                static_cast<suseconds_t>((options.seconds - static_cast<double>(
                    static_cast<time_t>(options.seconds))) * 1e6)};
  event_base_loopexit(base, &limit);
  event_base_dispatch(base);
  totals.stopping = true;
  double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  connections.clear();
  event_base_free(base);
  std::printf("{\"calls\": %llu, \"seconds\": %.6f, \"per_second\": %.1f, \"errors\": %llu, "
              "\"response_bytes\": %zu}\n",
              static_cast<unsigned long long>(totals.calls), elapsed,
              static_cast<double>(totals.calls) / elapsed,
              static_cast<unsigned long long>(totals.errors), totals.response_bytes);
  return totals.calls > 0 ? 0 : 1;
}
