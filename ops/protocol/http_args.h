// SPDX-License-Identifier: Apache-2.0
// The arguments the http and jsonrpc ops share (docs/protocol-ops.md): the target `url`
// (with its `timeout`, `tls` and `headers`), and the HTTP token rule of header names and
// methods. Like every reader of op parts they run twice: at ExecuteTest on the op as given
// and when the op executes on the evaluated values.
#pragma once

#include <string>
#include <string_view>

#include "ops/base/clock.h"
#include "ops/base/param_reader.h"
#include "ops/net/client_socket.h"
#include "ops/net/http_client.h"
#include "ops/net/url.h"

namespace testrund::ops {

// True when `text` is a non-empty HTTP token (RFC 9110 tchar: method and header names).
bool IsHttpToken(std::string_view text);

// The request target of http and jsonrpc.
struct HttpTarget {
  Url url;
  std::string url_text;
  MonoNs timeout = 0;
  std::string timeout_text;
  TlsOptions tls;  // how https:// and tls:// servers are checked (the scheme says whether)
  HeaderList headers;
};

// `url` (required; `allow_tcp`: tcp:// and tls:// too, jsonrpc's framing), `timeout`
// (default kDefaultHttpTimeout), `tls` and `headers` (an object of token name -> string or
// number, no CR, LF or NUL; a null value: the header is not sent).
void ReadHttpTarget(ParamReader& args, bool allow_tcp, HttpTarget* out);

}  // namespace testrund::ops
