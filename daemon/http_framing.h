// SPDX-License-Identifier: Apache-2.0
// HTTP/1.1 on a byte stream: HttpRequestParser turns bytes into requests with Debian's
// libhttp-parser (one request at a time, so pipelined requests are answered in order), and
// FormatHttpResponse writes a response. Enforces the header and body limits of
// docs/configuration.md#limits and reports which status a malformed request earns (400, 413, 431).
#pragma once

#include <http_parser.h>

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace testrund::daemon {

struct HttpRequest {
  std::string method;         // "POST", "GET", ...
  std::string path;           // the URL's path, without query or fragment
  std::string query;          // the URL's query, without the '?' ("" when absent)
  std::string authorization;  // the Authorization header value ("" when absent)
  std::string accept;         // the Accept header value ("" when absent)
  std::string last_event_id;  // the Last-Event-ID header value (Server-Sent Events)
  std::string if_none_match;  // the If-None-Match header value (an ETag)
  std::string body;           // kept for POST only; other methods' bodies are skipped
  bool keep_alive = true;     // HTTP/1.1 default, `Connection: close`, HTTP/1.0 rules
};

class HttpRequestParser {
 public:
  enum class State {
    kNeedMore,  // everything given was consumed; feed more
    kRequest,   // a whole request is ready: TakeRequest()
    kError,     // the stream is not usable HTTP: answer error_status() and close
  };

  struct FeedResult {
    State state;
    size_t consumed;  // bytes of the input used; the rest belongs to later requests
  };

  // Decides, once a request's headers are complete (method, path, authorization), whether
  // its body is worth keeping: the daemon does not buffer up to max_body_bytes for a
  // request without a valid token. A refused request's body is read and dropped (so the
  // connection stays usable) and the request is delivered with an empty body.
  using HeaderGate = std::function<bool(const HttpRequest& headers)>;

  HttpRequestParser(size_t max_header_bytes, size_t max_body_bytes, HeaderGate gate = {});
  HttpRequestParser(const HttpRequestParser&) = delete;
  HttpRequestParser& operator=(const HttpRequestParser&) = delete;

  // Parses `data` up to the end of the current request. After kError the parser is dead.
  FeedResult Feed(const char* data, size_t size);

  // The completed request; the parser then continues with the next one.
  HttpRequest TakeRequest();

  // After kError: 400 (bad HTTP), 413 (body over the limit) or 431 (headers over the limit).
  int error_status() const { return error_status_; }
  // After kError: a short reason for the response body and the debug log.
  const std::string& error_reason() const { return error_reason_; }

  // true once between the headers of a request that sent `Expect: 100-continue` and its
  // body: the caller answers `100 Continue` (and the flag clears).
  bool TakeContinueRequest() { return std::exchange(continue_requested_, false); }

  // true while a request has started but is not complete (for idle/stall handling).
  bool in_request() const { return in_request_; }

 private:
  static int OnMessageBegin(http_parser* parser);
  static int OnUrl(http_parser* parser, const char* at, size_t length);
  static int OnHeaderField(http_parser* parser, const char* at, size_t length);
  static int OnHeaderValue(http_parser* parser, const char* at, size_t length);
  static int OnHeadersComplete(http_parser* parser);
  static int OnBody(http_parser* parser, const char* at, size_t length);
  static int OnMessageComplete(http_parser* parser);
  void FinishHeader();
  int Fail(int status, std::string reason);

  http_parser parser_;
  http_parser_settings settings_;
  size_t max_body_bytes_;
  HeaderGate gate_;
  HttpRequest request_;
  std::string url_;
  std::string field_;
  std::string value_;
  bool in_value_ = false;
  bool in_request_ = false;
  bool continue_requested_ = false;
  bool drop_body_ = false;  // the gate refused this request
  int error_status_ = 0;
  std::string error_reason_;
};

// The value of parameter `name` in a URL query ("a=1&b=x%20y"), percent-decoded ('+' is a
// space); nullopt when absent. A malformed escape is kept as it is.
std::optional<std::string> QueryParameter(std::string_view query, std::string_view name);

// The reason phrase of a status code this daemon sends ("OK", "Not Found", ...).
std::string_view HttpReason(int status);

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

inline constexpr std::string_view kJsonContentType = "application/json";

// A whole HTTP/1.1 response: status line, Content-Length (omitted for 1xx/204),
// Content-Type when there is a body, `Connection: close` when !keep_alive, extra headers.
std::string FormatHttpResponse(int status, std::string_view body, bool keep_alive,
                               const HttpHeaders& extra = {},
                               std::string_view content_type = kJsonContentType);
// The same response's status line and headers alone, for a body of `body_size` bytes sent
// separately.
std::string FormatHttpHead(int status, size_t body_size, bool keep_alive,
                           const HttpHeaders& extra = {},
                           std::string_view content_type = kJsonContentType);

}  // namespace testrund::daemon
