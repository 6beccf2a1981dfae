// SPDX-License-Identifier: Apache-2.0
// The integration-test harness (see harness.h): process control, stderr capture, client
// sockets (plain and OpenSSL), HTTP/1.1 and length-prefixed clients, certificates.
#include "test/integration/harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>

extern char** environ;

namespace testrund::test {
namespace {

using Clock = std::chrono::steady_clock;

Clock::time_point Deadline(double seconds) {
  return Clock::now() + std::chrono::microseconds(static_cast<int64_t>(seconds * 1e6));
}

int MillisLeft(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

std::string Lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

int ExitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Waits for `pid` until `deadline`; returns its exit status or nullopt.
std::optional<int> WaitPid(pid_t pid, Clock::time_point deadline) {
  for (;;) {
    int status = 0;
    pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) return ExitStatus(status);
    if (done < 0) return -1;
    if (Clock::now() >= deadline) return std::nullopt;
    // Polling the child's state; a short nap between looks, not a fixed wait for an event.
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// Spawns the binary with `args`; its stdout/stderr go to the given fds (-1: /dev/null).
pid_t Spawn(const std::vector<std::string>& args, int out_fd, int err_fd) {
  std::string binary = BinaryPath();
  std::vector<char*> argv;
  argv.push_back(binary.data());
  std::vector<std::string> copy = args;
  for (std::string& arg : copy) argv.push_back(arg.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  if (out_fd >= 0) {
    posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
  } else {
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  }
  if (err_fd >= 0) posix_spawn_file_actions_adddup2(&actions, err_fd, 2);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  REQUIRE(rc == 0);
  return pid;
}

// Reads `fd` until EOF into `out`.
void Drain(int fd, std::string* out) {
  char buffer[4096];
  for (;;) {
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n <= 0) break;
    out->append(buffer, static_cast<size_t>(n));
  }
}

}  // namespace

std::string BinaryPath() {
  const char* path = std::getenv("TESTRUND_BINARY");
  REQUIRE(path != nullptr);
  return path;
}

// ---- TempDir ---------------------------------------------------------------------------

TempDir::TempDir() {
  char pattern[] = "/tmp/testrund_it_XXXXXX";
  REQUIRE(mkdtemp(pattern) != nullptr);
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string TempDir::Write(const std::string& name, std::string_view contents) const {
  std::string full = path_ + "/" + name;
  std::ofstream out(full, std::ios::binary);
  out << contents;
  REQUIRE(out.good());
  return full;
}

// ---- certificates ----------------------------------------------------------------------

TlsFiles GenerateSelfSignedCert(const TempDir& dir) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), &EVP_PKEY_free);
  REQUIRE(key != nullptr);
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), &X509_free);
  REQUIRE(cert != nullptr);
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 7 * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  X509_EXTENSION* san = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, "IP:127.0.0.1");
  REQUIRE(san != nullptr);
  X509_add_ext(cert.get(), san, -1);
  X509_EXTENSION_free(san);
  REQUIRE(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0);

  TlsFiles files{dir.path() + "/cert.pem", dir.path() + "/key.pem"};
  FILE* out = std::fopen(files.cert.c_str(), "w");
  REQUIRE(out != nullptr);
  PEM_write_X509(out, cert.get());
  std::fclose(out);
  out = std::fopen(files.key.c_str(), "w");
  REQUIRE(out != nullptr);
  PEM_write_PrivateKey(out, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(out);
  return files;
}

// ---- Stream ----------------------------------------------------------------------------

std::unique_ptr<Stream> Stream::Connect(uint16_t port, bool tls) {
  std::unique_ptr<Stream> stream(new Stream());
  stream->fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(stream->fd_ >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(connect(stream->fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
  int one = 1;
  setsockopt(stream->fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (tls) {
    stream->ctx_ = SSL_CTX_new(TLS_client_method());
    REQUIRE(stream->ctx_ != nullptr);
    SSL_CTX_set_verify(stream->ctx_, SSL_VERIFY_NONE, nullptr);
    // The daemon may close without close_notify after a response; treat that as EOF.
    SSL_CTX_set_options(stream->ctx_, SSL_OP_IGNORE_UNEXPECTED_EOF);
    stream->ssl_ = SSL_new(stream->ctx_);
    REQUIRE(stream->ssl_ != nullptr);
    SSL_set_fd(stream->ssl_, stream->fd_);
    int rc = SSL_connect(stream->ssl_);
    if (rc != 1) ERR_print_errors_fp(stderr);
    REQUIRE(rc == 1);
  }
  return stream;
}

Stream::~Stream() {
  if (ssl_ != nullptr) SSL_free(ssl_);
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
  if (fd_ >= 0) close(fd_);
}

bool Stream::WriteAll(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n;
    if (ssl_ != nullptr) {
      n = SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size()));
    } else {
      n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    }
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::optional<std::string> Stream::ReadSome(double timeout) {
  auto deadline = Deadline(timeout);
  char buffer[16384];
  for (;;) {
    if (ssl_ == nullptr || SSL_pending(ssl_) == 0) {
      pollfd p{fd_, POLLIN, 0};
      int ready = poll(&p, 1, MillisLeft(deadline));
      if (ready == 0) return std::nullopt;
      if (ready < 0) return std::string();
    }
    if (ssl_ != nullptr) {
      int n = SSL_read(ssl_, buffer, sizeof(buffer));
      if (n > 0) return std::string(buffer, static_cast<size_t>(n));
      int error = SSL_get_error(ssl_, n);
      if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
        if (Clock::now() >= deadline) return std::nullopt;
        continue;  // a TLS record without application data (e.g. a session ticket)
      }
      ERR_clear_error();
      return std::string();
    }
    ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
    if (n > 0) return std::string(buffer, static_cast<size_t>(n));
    return std::string();  // EOF or reset
  }
}

std::string Stream::ReadToEof(double timeout) {
  auto deadline = Deadline(timeout);
  std::string all;
  for (;;) {
    std::optional<std::string> chunk = ReadSome(MillisLeft(deadline) / 1000.0);
    INFO("waiting for the daemon to close the connection; got so far: " << all);
    REQUIRE(chunk.has_value());
    if (chunk->empty()) return all;
    all += *chunk;
  }
}

bool Stream::WaitClosed(double timeout) {
  auto deadline = Deadline(timeout);
  for (;;) {
    std::optional<std::string> chunk = ReadSome(MillisLeft(deadline) / 1000.0);
    if (!chunk) return false;
    if (chunk->empty()) return true;
  }
}

// ---- HTTP ------------------------------------------------------------------------------

std::string HttpResponse::Header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

HttpClient::HttpClient(uint16_t port, bool tls) : stream_(Stream::Connect(port, tls)) {}

HttpResponse HttpClient::Post(const std::string& path, std::string_view body,
                              const Headers& headers) {
  return Request("POST", path, body, headers);
}

HttpResponse HttpClient::Get(const std::string& path, const Headers& headers) {
  return Request("GET", path, "", headers);
}

HttpResponse HttpClient::Request(const std::string& method, const std::string& path,
                                 std::string_view body, const Headers& headers) {
  std::string request = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (const auto& [name, value] : headers) request += name + ": " + value + "\r\n";
  if (method == "POST" || !body.empty()) {
    request += "Content-Type: application/json\r\n";
    request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  request += "\r\n";
  request.append(body);
  SendRaw(request);
  return ReadResponse();
}

void HttpClient::SendRaw(std::string_view bytes) { REQUIRE(stream_->WriteAll(bytes)); }

HttpResponse HttpClient::ReadResponse(double timeout) {
  auto deadline = Deadline(timeout);
  auto fill = [&] {
    std::optional<std::string> chunk = stream_->ReadSome(MillisLeft(deadline) / 1000.0);
    INFO("reading an HTTP response; buffered: " << buffered_);
    REQUIRE(chunk.has_value());     // timeout
    REQUIRE_FALSE(chunk->empty());  // the daemon closed the connection
    buffered_ += *chunk;
  };
  for (;;) {
    size_t end;
    while ((end = buffered_.find("\r\n\r\n")) == std::string::npos) fill();
    std::string head = buffered_.substr(0, end);
    buffered_.erase(0, end + 4);
    HttpResponse response;
    std::smatch match;
    std::string status_line = head.substr(0, head.find("\r\n"));
    REQUIRE(std::regex_match(status_line, match, std::regex(R"(HTTP/1\.1 (\d{3}) .*)")));
    response.status = std::stoi(match[1]);
    size_t pos = head.find("\r\n");
    while (pos != std::string::npos) {
      size_t next = head.find("\r\n", pos + 2);
      std::string line =
          head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
      size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        response.headers[Lower(line.substr(0, colon))] = value;
      }
      pos = next;
    }
    if (response.status < 200) continue;  // 100 Continue
    size_t length = 0;
    if (std::string cl = response.Header("content-length"); !cl.empty()) length = std::stoul(cl);
    while (buffered_.size() < length) fill();
    response.body = buffered_.substr(0, length);
    buffered_.erase(0, length);
    return response;
  }
}

bool HttpClient::WaitClosed(double timeout) { return stream_->WaitClosed(timeout); }

// ---- Daemon ----------------------------------------------------------------------------

Daemon::Daemon(std::vector<std::string> args, Options options) {
  bool has_listen = false;
  int listen_flags = 0;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--listen" || args[i].starts_with("--listen=")) has_listen = true;
    if (args[i] == "--listen" || args[i] == "--tls-listen") {
      if (i + 1 < args.size() && !args[i + 1].empty()) ++listen_flags;
    } else if ((args[i].starts_with("--listen=") && args[i].size() > 9) ||
               (args[i].starts_with("--tls-listen=") && args[i].size() > 13)) {
      ++listen_flags;
    }
  }
  if (!has_listen && options.plain) {
    args.insert(args.begin(), {"--listen", "127.0.0.1:0"});
    ++listen_flags;
  }
  if (options.tls) {
    tls_files_ = GenerateSelfSignedCert(dir_);
    args.insert(args.end(), {"--tls-listen", "127.0.0.1:0", "--tls-cert", tls_files_.cert,
                             "--tls-key", tls_files_.key});
    ++listen_flags;
  }
  int expected = options.expected_listeners >= 0 ? options.expected_listeners : listen_flags;

  int pipe_fds[2];
  REQUIRE(pipe2(pipe_fds, O_CLOEXEC) == 0);
  pid_ = Spawn(args, -1, pipe_fds[1]);
  close(pipe_fds[1]);
  reader_ = std::thread([this, fd = pipe_fds[0]] { ReadStderr(fd); });

  static const std::regex kListening(R"(listening on (\S+):(\d+) \((plain|tls)\))");
  std::unique_lock lock(mutex_);
  auto deadline = Deadline(kDefaultTimeout);
  size_t scanned = 0;
  while (static_cast<int>(listeners_.size()) < expected) {
    size_t newline = log_.find('\n', scanned);
    if (newline != std::string::npos) {
      std::string line = log_.substr(scanned, newline - scanned);
      scanned = newline + 1;
      std::smatch match;
      if (std::regex_search(line, match, kListening)) {
        listeners_.emplace_back(static_cast<uint16_t>(std::stoi(match[2])), match[3] == "tls");
      }
      continue;
    }
    INFO("testrund did not log its listeners; stderr so far:\n" << log_);
    REQUIRE_FALSE(log_closed_);  // it exited
    REQUIRE(changed_.wait_until(lock, deadline) != std::cv_status::timeout);
  }
}

Daemon::~Daemon() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    std::optional<int> status = WaitPid(pid_, Deadline(kDefaultTimeout));
    if (!status) {
      kill(pid_, SIGKILL);
      WaitPid(pid_, Deadline(kDefaultTimeout));
    }
    pid_ = -1;
    if (reader_.joinable()) reader_.join();
    // Every daemon must survive its test and exit 0 on SIGTERM: a crash, a hang, or (in the
    // sanitize build, where a report or a leak makes the exit status non-zero) a sanitizer
    // finding fails the test that started it.
    INFO("testrund stderr:\n" << Log());
    CHECK(status == std::optional<int>(0));
    CHECK_FALSE(HasSanitizerReport(Log()));
  }
  if (reader_.joinable()) reader_.join();
}

void Daemon::ReadStderr(int fd) {
  char buffer[4096];
  for (;;) {
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    std::lock_guard lock(mutex_);
    if (n <= 0) {
      log_closed_ = true;
      changed_.notify_all();
      break;
    }
    log_.append(buffer, static_cast<size_t>(n));
    changed_.notify_all();
  }
  close(fd);
}

uint16_t Daemon::port() const {
  for (const auto& [port, tls] : listeners_) {
    if (!tls) return port;
  }
  FAIL("the daemon has no plain listener");
  return 0;
}

uint16_t Daemon::tls_port() const {
  for (const auto& [port, tls] : listeners_) {
    if (tls) return port;
  }
  FAIL("the daemon has no TLS listener");
  return 0;
}

std::optional<std::string> Daemon::Framed(std::string_view body, bool tls) const {
  std::string raw = FramedRaw(Frame(body), tls);
  if (raw.empty()) return std::nullopt;
  REQUIRE(raw.size() >= 4);
  uint32_t length = (uint32_t{static_cast<unsigned char>(raw[0])} << 24) |
                    (uint32_t{static_cast<unsigned char>(raw[1])} << 16) |
                    (uint32_t{static_cast<unsigned char>(raw[2])} << 8) |
                    uint32_t{static_cast<unsigned char>(raw[3])};
  INFO("framed response: " << raw);
  REQUIRE(raw.size() == 4 + length);
  return raw.substr(4);
}

std::string Daemon::FramedRaw(std::string_view bytes, bool tls) const {
  std::unique_ptr<Stream> stream = Stream::Connect(tls ? tls_port() : port(), tls);
  REQUIRE(stream->WriteAll(bytes));
  return stream->ReadToEof();
}

bool HasSanitizerReport(std::string_view log) {
  return log.find("Sanitizer") != std::string_view::npos ||
         log.find("runtime error:") != std::string_view::npos;
}

int Daemon::Stop(int signal) {
  REQUIRE(pid_ > 0);
  kill(pid_, signal);
  std::optional<int> status = WaitPid(pid_, Deadline(kDefaultTimeout));
  REQUIRE(status.has_value());
  pid_ = -1;
  if (reader_.joinable()) reader_.join();
  INFO("testrund stderr:\n" << Log());
  CHECK_FALSE(HasSanitizerReport(Log()));
  return *status;
}

std::string Daemon::Log() const {
  std::lock_guard lock(mutex_);
  return log_;
}

bool Daemon::WaitForLog(std::string_view text, double timeout) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_until(lock, Deadline(timeout), [&] {
    return log_.find(text) != std::string::npos || log_closed_;
  }) && log_.find(text) != std::string::npos;
}

// ---- one-shot runs and helpers ---------------------------------------------------------

RunResult RunToExit(const std::vector<std::string>& args, double timeout) {
  int out_pipe[2];
  int err_pipe[2];
  REQUIRE(pipe2(out_pipe, O_CLOEXEC) == 0);
  REQUIRE(pipe2(err_pipe, O_CLOEXEC) == 0);
  pid_t pid = Spawn(args, out_pipe[1], err_pipe[1]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  RunResult result;
  std::thread out_reader([&] { Drain(out_pipe[0], &result.out); });
  Drain(err_pipe[0], &result.err);
  out_reader.join();
  close(out_pipe[0]);
  close(err_pipe[0]);
  std::optional<int> status = WaitPid(pid, Deadline(timeout));
  if (!status) {
    kill(pid, SIGKILL);
    WaitPid(pid, Deadline(timeout));
  }
  REQUIRE(status.has_value());
  INFO("stderr:\n" << result.err);
  CHECK_FALSE(HasSanitizerReport(result.err));
  result.exit_status = *status;
  return result;
}

rapidjson::Document ParseJson(std::string_view text) {
  rapidjson::Document document;
  document.Parse(text.data(), text.size());
  INFO("not JSON: " << text);
  REQUIRE_FALSE(document.HasParseError());
  return document;
}

std::string FramePrefix(uint32_t length) {
  std::string prefix(4, '\0');
  prefix[0] = static_cast<char>(length >> 24);
  prefix[1] = static_cast<char>(length >> 16);
  prefix[2] = static_cast<char>(length >> 8);
  prefix[3] = static_cast<char>(length);
  return prefix;
}

std::string Frame(std::string_view body) {
  return FramePrefix(static_cast<uint32_t>(body.size())) + std::string(body);
}

int BindLoopback(int type, uint16_t* port) {
  int fd = socket(AF_INET, type, 0);
  REQUIRE(fd >= 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  *port = ntohs(addr.sin_port);
  return fd;
}

uint16_t RefusedPort() {
  uint16_t port = 0;
  close(BindLoopback(SOCK_STREAM, &port));
  return port;
}

int64_t ResidentKiB(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmRSS:")) return std::stoll(line.substr(6));
  }
  FAIL("no VmRSS in /proc/" << pid << "/status");
  return 0;
}

size_t OpenDescriptors(pid_t pid) {
  std::string dir = pid == 0 ? "/proc/self/fd" : "/proc/" + std::to_string(pid) + "/fd";
  size_t n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

}  // namespace testrund::test
