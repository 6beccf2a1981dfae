// SPDX-License-Identifier: Apache-2.0
// HttpRequestParser and FormatHttpResponse (see http_framing.h). The parser pauses
// libhttp-parser at the end of every message, so bytes of a pipelined next request stay in
// the caller's buffer until the current one has been answered.
#include "daemon/http_framing.h"

#include <fmt/core.h>
#include <strings.h>

#include <limits>

#include "ops/base/hex.h"

namespace testrund::daemon {
namespace {

HttpRequestParser* Self(http_parser* parser) {
  return static_cast<HttpRequestParser*>(parser->data);
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

struct StatusReason {
  int status;
  std::string_view reason;
};

constexpr StatusReason kReasons[] = {
    {100, "Continue"},
    {200, "OK"},
    {204, "No Content"},
    {304, "Not Modified"},
    {308, "Permanent Redirect"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {413, "Content Too Large"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {503, "Service Unavailable"},
};

// 1xx, 204 and 304 responses end with their headers (RFC 9110, 6.4.1).
bool HasBody(int status) { return status >= 200 && status != 204 && status != 304; }

std::string PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t k = 0; k < text.size(); ++k) {
    std::string byte;
    if (text[k] == '+') {
      out += ' ';
    } else if (text[k] == '%' && ops::HexDecode(text.substr(k + 1, 2), &byte) && byte.size() == 1) {
      out += byte;
      k += 2;
    } else {
      out += text[k];
    }
  }
  return out;
}

}  // namespace

std::optional<std::string> QueryParameter(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    size_t end = query.find('&');
    std::string_view pair = query.substr(0, end);
    size_t equals = pair.find('=');
    if (PercentDecode(pair.substr(0, equals)) == name) {
      if (equals == std::string_view::npos) return std::string();
      return PercentDecode(pair.substr(equals + 1));
    }
    if (end == std::string_view::npos) break;
    query.remove_prefix(end + 1);
  }
  return std::nullopt;
}

HttpRequestParser::HttpRequestParser(size_t max_header_bytes, size_t max_body_bytes,
                                     HeaderGate gate)
    : max_body_bytes_(max_body_bytes), gate_(std::move(gate)) {
  // The library's limit is process-wide; every parser in the daemon uses the same value.
  http_parser_set_max_header_size(static_cast<uint32_t>(max_header_bytes));
  http_parser_init(&parser_, HTTP_REQUEST);
  parser_.data = this;
  http_parser_settings_init(&settings_);
  settings_.on_message_begin = &HttpRequestParser::OnMessageBegin;
  settings_.on_url = &HttpRequestParser::OnUrl;
  settings_.on_header_field = &HttpRequestParser::OnHeaderField;
  settings_.on_header_value = &HttpRequestParser::OnHeaderValue;
  settings_.on_headers_complete = &HttpRequestParser::OnHeadersComplete;
  settings_.on_body = &HttpRequestParser::OnBody;
  settings_.on_message_complete = &HttpRequestParser::OnMessageComplete;
}

HttpRequestParser::FeedResult HttpRequestParser::Feed(const char* data, size_t size) {
  if (error_status_ != 0) return FeedResult{State::kError, 0};
  size_t consumed = http_parser_execute(&parser_, &settings_, data, size);
  http_errno error = HTTP_PARSER_ERRNO(&parser_);
  if (error == HPE_PAUSED) return FeedResult{State::kRequest, consumed};
  if (error != HPE_OK) {
    if (error_status_ == 0) {
      if (error == HPE_HEADER_OVERFLOW) {
        Fail(431, "request headers are over max_header_bytes");
      } else {
        Fail(400, fmt::format("not valid HTTP/1.1: {}", http_errno_description(error)));
      }
    }
    return FeedResult{State::kError, consumed};
  }
  if (parser_.upgrade) {
    // An Upgrade or CONNECT request: this server speaks nothing else on the connection.
    Fail(400, "protocol upgrades are not supported");
    return FeedResult{State::kError, consumed};
  }
  return FeedResult{State::kNeedMore, consumed};
}

HttpRequest HttpRequestParser::TakeRequest() {
  HttpRequest request = std::move(request_);
  request_ = HttpRequest();
  http_parser_pause(&parser_, 0);
  return request;
}

int HttpRequestParser::Fail(int status, std::string reason) {
  error_status_ = status;
  error_reason_ = std::move(reason);
  // Not 1: from on_headers_complete that would mean "no body follows", not an error.
  return -1;
}

int HttpRequestParser::OnMessageBegin(http_parser* parser) {
  HttpRequestParser* self = Self(parser);
  self->request_ = HttpRequest();
  self->url_.clear();
  self->field_.clear();
  self->value_.clear();
  self->in_value_ = false;
  self->in_request_ = true;
  return 0;
}

int HttpRequestParser::OnUrl(http_parser* parser, const char* at, size_t length) {
  Self(parser)->url_.append(at, length);
  return 0;
}

int HttpRequestParser::OnHeaderField(http_parser* parser, const char* at, size_t length) {
  HttpRequestParser* self = Self(parser);
  if (self->in_value_) {
    self->FinishHeader();
    self->in_value_ = false;
  }
  self->field_.append(at, length);
  return 0;
}

int HttpRequestParser::OnHeaderValue(http_parser* parser, const char* at, size_t length) {
  HttpRequestParser* self = Self(parser);
  self->in_value_ = true;
  self->value_.append(at, length);
  return 0;
}

void HttpRequestParser::FinishHeader() {
  if (EqualsIgnoreCase(field_, "authorization")) {
    request_.authorization = value_;
  } else if (EqualsIgnoreCase(field_, "accept")) {
    request_.accept = value_;
  } else if (EqualsIgnoreCase(field_, "last-event-id")) {
    request_.last_event_id = value_;
  } else if (EqualsIgnoreCase(field_, "if-none-match")) {
    request_.if_none_match = value_;
  } else if (EqualsIgnoreCase(field_, "expect") && EqualsIgnoreCase(value_, "100-continue")) {
    continue_requested_ = true;
  }
  field_.clear();
  value_.clear();
}

int HttpRequestParser::OnHeadersComplete(http_parser* parser) {
  HttpRequestParser* self = Self(parser);
  if (self->in_value_ || !self->field_.empty()) self->FinishHeader();
  self->in_value_ = false;
  self->request_.method = http_method_str(static_cast<http_method>(parser->method));
  struct http_parser_url url;
  http_parser_url_init(&url);
  bool is_connect = parser->method == HTTP_CONNECT;
  if (http_parser_parse_url(self->url_.data(), self->url_.size(), is_connect, &url) != 0) {
    return self->Fail(400, "not valid HTTP/1.1: bad request target");
  }
  if (url.field_set & (1 << UF_PATH)) {
    self->request_.path =
        self->url_.substr(url.field_data[UF_PATH].off, url.field_data[UF_PATH].len);
  } else {
    // assign(count, char), not = "/": GCC 12 at -O3 raises a false -Wrestrict on the
    // literal assignment (GCC bug 105329), which breaks the release build.
    self->request_.path.assign(1, '/');
  }
  if (url.field_set & (1 << UF_QUERY)) {
    self->request_.query =
        self->url_.substr(url.field_data[UF_QUERY].off, url.field_data[UF_QUERY].len);
  }
  if (parser->content_length != std::numeric_limits<uint64_t>::max() &&
      parser->content_length > self->max_body_bytes_) {
    return self->Fail(
        413, fmt::format("request body is over max_body_bytes ({} bytes)", self->max_body_bytes_));
  }
  self->drop_body_ = self->gate_ && !self->gate_(self->request_);
  if (self->drop_body_) return 0;
  if (parser->method == HTTP_POST && parser->content_length != 0 &&
      parser->content_length != std::numeric_limits<uint64_t>::max()) {
    self->request_.body.reserve(parser->content_length);
  }
  if (parser->content_length == 0 || parser->method != HTTP_POST) {
    self->continue_requested_ = false;
  }
  return 0;
}

int HttpRequestParser::OnBody(http_parser* parser, const char* at, size_t length) {
  HttpRequestParser* self = Self(parser);
  if (parser->method != HTTP_POST || self->drop_body_) return 0;
  if (self->request_.body.size() + length > self->max_body_bytes_) {
    return self->Fail(
        413, fmt::format("request body is over max_body_bytes ({} bytes)", self->max_body_bytes_));
  }
  self->request_.body.append(at, length);
  return 0;
}

int HttpRequestParser::OnMessageComplete(http_parser* parser) {
  HttpRequestParser* self = Self(parser);
  self->request_.keep_alive = http_should_keep_alive(parser) != 0;
  self->in_request_ = false;
  self->continue_requested_ = false;
  http_parser_pause(parser, 1);
  return 0;
}

std::string_view HttpReason(int status) {
  for (const StatusReason& entry : kReasons) {
    if (entry.status == status) return entry.reason;
  }
  return "Unknown";
}

std::string FormatHttpHead(int status, size_t body_size, bool keep_alive,
                           const HttpHeaders& extra, std::string_view content_type) {
  std::string out = fmt::format("HTTP/1.1 {} {}\r\n", status, HttpReason(status));
  for (const auto& [name, value] : extra) out += fmt::format("{}: {}\r\n", name, value);
  if (HasBody(status)) {
    if (body_size > 0) out += fmt::format("Content-Type: {}\r\n", content_type);
    out += fmt::format("Content-Length: {}\r\n", body_size);
  }
  if (!keep_alive) out += "Connection: close\r\n";
  out += "\r\n";
  return out;
}

std::string FormatHttpResponse(int status, std::string_view body, bool keep_alive,
                               const HttpHeaders& extra, std::string_view content_type) {
  std::string out = FormatHttpHead(status, body.size(), keep_alive, extra, content_type);
  if (HasBody(status)) out.append(body);
  return out;
}

}  // namespace testrund::daemon
