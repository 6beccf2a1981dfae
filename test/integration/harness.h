// SPDX-License-Identifier: Apache-2.0
// The integration-test harness: starts the real testrund binary (TESTRUND_BINARY, set by
// meson) on 127.0.0.1 port 0, waits for its `listening on` lines and reads the ports from
// them, and talks to it over real sockets: length-prefixed requests, HTTP/1.1 on one
// keep-alive socket, both optionally inside TLS (a self-signed certificate is generated per
// daemon). Stopping sends SIGTERM and checks the exit status.
//
//   Daemon d({"--token", "x:operator"});
//   HttpResponse r = d.Http().Post("/", body, {{"Authorization", "Bearer x"}});
//   std::optional<std::string> f = d.Framed(body);   // nullopt: closed without a response
//   CHECK(d.Stop() == 0);
//
// Every helper fails the current Catch2 test (REQUIRE) on a timeout or a broken stream;
// nothing sleeps a fixed time.
#pragma once

#include <openssl/ssl.h>
#include <rapidjson/document.h>
#include <sys/types.h>

#include <condition_variable>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace testrund::test {

// Seconds any single wait may take before the test fails.
constexpr double kDefaultTimeout = 20;

// The testrund binary under test (TESTRUND_BINARY).
std::string BinaryPath();

// A temporary directory, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // Writes `contents` to path()/name and returns the full path.
  std::string Write(const std::string& name, std::string_view contents) const;

 private:
  std::string path_;
};

// A self-signed certificate (CN and SAN 127.0.0.1) and its key, as PEM files in `dir`.
struct TlsFiles {
  std::string cert;
  std::string key;
};
TlsFiles GenerateSelfSignedCert(const TempDir& dir);

// One client socket, plain or TLS (no certificate verification: the daemon's is
// self-signed). Blocking with poll()-based timeouts.
class Stream {
 public:
  static std::unique_ptr<Stream> Connect(uint16_t port, bool tls);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // Writes everything; false when the peer has gone.
  bool WriteAll(std::string_view bytes);
  // Some bytes; "" at EOF (or a reset); nullopt when nothing came within `timeout` seconds.
  std::optional<std::string> ReadSome(double timeout = kDefaultTimeout);
  // Everything until EOF. Fails the test on a timeout.
  std::string ReadToEof(double timeout = kDefaultTimeout);
  // true when the server closed the connection within `timeout` (data before EOF is
  // discarded).
  bool WaitClosed(double timeout = kDefaultTimeout);
  int fd() const { return fd_; }

 private:
  Stream() = default;
  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
};

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  // The header's value, "" when absent. `name` in lower case.
  std::string Header(const std::string& name) const;
};

using Headers = std::vector<std::pair<std::string, std::string>>;

// HTTP/1.1 over one keep-alive connection.
class HttpClient {
 public:
  HttpClient(uint16_t port, bool tls);

  HttpResponse Post(const std::string& path, std::string_view body, const Headers& headers = {});
  HttpResponse Get(const std::string& path, const Headers& headers = {});
  // Sends one request (Host and Content-Length are added) and reads its response.
  HttpResponse Request(const std::string& method, const std::string& path, std::string_view body,
                       const Headers& headers = {});
  // Bytes as they are, for malformed requests and pipelining.
  void SendRaw(std::string_view bytes);
  // Reads the next response (skipping 1xx). Fails the test on EOF or timeout.
  HttpResponse ReadResponse(double timeout = kDefaultTimeout);
  // true when the server closed the connection (after any unread responses).
  bool WaitClosed(double timeout = kDefaultTimeout);
  Stream& stream() { return *stream_; }

 private:
  std::unique_ptr<Stream> stream_;
  std::string buffered_;
};

// A running testrund.
class Daemon {
 public:
  struct Options {
    bool tls = false;             // add a TLS listener with a generated certificate
    bool plain = true;            // keep the default plain listener (--listen 127.0.0.1:0)
    int expected_listeners = -1;  // -1: count --listen/--tls-listen in the arguments
  };

  // Starts testrund with `args` plus `--listen 127.0.0.1:0` (unless `args` has --listen)
  // and waits until it logged every `listening on` line. Fails the test when it exits or
  // stays silent.
  explicit Daemon(std::vector<std::string> args = {}) : Daemon(std::move(args), Options{}) {}
  Daemon(std::vector<std::string> args, Options options);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  uint16_t port() const;      // the first plain listener
  uint16_t tls_port() const;  // the first TLS listener
  const std::vector<std::pair<uint16_t, bool>>& listeners() const { return listeners_; }

  HttpClient Http() const { return HttpClient(port(), false); }
  HttpClient Https() const { return HttpClient(tls_port(), true); }
  // One length-prefixed request on a new connection; returns the response body, or
  // nullopt when the daemon closed without one. Fails the test unless the daemon closes
  // the connection after the response.
  std::optional<std::string> Framed(std::string_view body, bool tls = false) const;
  // Raw bytes on a new connection; returns everything the daemon sent until it closed.
  std::string FramedRaw(std::string_view bytes, bool tls = false) const;

  // Sends `signal` and waits for the exit. Returns the exit status (128 + signal when the
  // process was killed by one). The destructor stops a running daemon with SIGTERM and fails
  // the test unless it exits 0 without a sanitizer report.
  int Stop(int signal = SIGTERM);
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  // Everything the daemon wrote to stderr so far.
  std::string Log() const;
  // Waits until stderr contains `text`; false on timeout.
  bool WaitForLog(std::string_view text, double timeout = kDefaultTimeout) const;

  const TlsFiles& tls_files() const { return tls_files_; }

 private:
  void ReadStderr(int fd);

  TempDir dir_;
  TlsFiles tls_files_;
  pid_t pid_ = -1;
  std::thread reader_;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::string log_;
  bool log_closed_ = false;
  std::vector<std::pair<uint16_t, bool>> listeners_;  // port, tls
};

// true when `log` holds an AddressSanitizer, LeakSanitizer or UBSan report (sanitize build).
bool HasSanitizerReport(std::string_view log);

// Runs testrund to completion (for --version, --help, config errors).
struct RunResult {
  int exit_status = -1;
  std::string out;
  std::string err;
};
RunResult RunToExit(const std::vector<std::string>& args, double timeout = kDefaultTimeout);

// Parses JSON; fails the test when it is not valid.
rapidjson::Document ParseJson(std::string_view text);

// A 4-byte big-endian length prefix followed by `body`.
std::string Frame(std::string_view body);
// Resident memory of process `pid` in KiB (VmRSS).
int64_t ResidentKiB(pid_t pid);
// Descriptors process `pid` holds now (/proc/<pid>/fd); 0: this process.
size_t OpenDescriptors(pid_t pid = 0);

// True in the sanitize build. AddressSanitizer keeps freed memory in quarantine and the
// daemon runs several times slower there, so RSS bounds are checked in the normal build
// only (LeakSanitizer checks for leaks instead) and time bounds are scaled.
#ifdef __SANITIZE_ADDRESS__
inline constexpr bool kAddressSanitizer = true;
#else
inline constexpr bool kAddressSanitizer = false;
#endif
// A prefix claiming `length` bytes (without a body).
std::string FramePrefix(uint32_t length);

// A socket of `type` (SOCK_STREAM or SOCK_DGRAM, with any of SOCK_NONBLOCK and
// SOCK_CLOEXEC) with SO_REUSEADDR, bound to 127.0.0.1 on a port the kernel picks, which is
// stored in `*port`. Fails the test when the socket cannot be made or bound.
int BindLoopback(int type, uint16_t* port);
// A loopback TCP port nobody listens on (bound, then closed): connections to it are refused.
uint16_t RefusedPort();

}  // namespace testrund::test
