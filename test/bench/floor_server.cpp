// SPDX-License-Identifier: Apache-2.0
// floor_server: the transport's own floor for scenario 6 of the benchmarks
// (test/bench/bench.py). A bare libevent evhttp server on 127.0.0.1 port 0 that answers
// every request with 200 and a fixed JSON-shaped body of --bytes bytes, doing no other work:
// the fastest a libevent HTTP/1.1 server on this machine can answer, against which
// testrund's JSON-RPC calls per second are compared.
//
//   floor_server --bytes N
// Prints `listening on 127.0.0.1:PORT` on stdout, then serves until killed.
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

void Reply(evhttp_request* request, void* arg) {
  const auto* body = static_cast<const std::string*>(arg);
  evbuffer* out = evhttp_request_get_output_buffer(request);
  evbuffer_add_reference(out, body->data(), body->size(), nullptr, nullptr);
  evhttp_add_header(evhttp_request_get_output_headers(request), "Content-Type",
                    "application/json");
  evhttp_send_reply(request, 200, "OK", nullptr);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 || std::strcmp(argv[1], "--bytes") != 0) {
    std::fprintf(stderr, "usage: floor_server --bytes N\n");
    return 64;
  }
  long bytes = std::atol(argv[2]);
  if (bytes < 2) bytes = 2;
  // {"x":"aaaa..."} padded to exactly `bytes`.
  std::string body = "{\"x\":\"";
  body.append(static_cast<size_t>(std::max(0L, bytes - 8)), 'a');
  body += "\"}";
  body.resize(static_cast<size_t>(bytes), ' ');

  event_base* base = event_base_new();
  evhttp* http = evhttp_new(base);
  evhttp_set_gencb(http, Reply, &body);
  evhttp_bound_socket* bound = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
  if (bound == nullptr) {
    std::fprintf(stderr, "floor_server: cannot bind 127.0.0.1:0\n");
    return 1;
  }
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  getsockname(evhttp_bound_socket_get_fd(bound), reinterpret_cast<sockaddr*>(&ss), &len);
  int port = ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  std::printf("listening on 127.0.0.1:%d\n", port);
  std::fflush(stdout);
  event_base_dispatch(base);
  evhttp_free(http);
  event_base_free(base);
  return 0;
}
