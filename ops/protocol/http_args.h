// SPDX-License-Identifier: Apache-2.0
// The arguments the http and jsonrpc ops share (docs/protocol-ops.md): the target `url`
// (with its `timeout`, `tls` and `headers`), and the HTTP token rule of header names and
// methods. Like every ArgCheck reader they run twice: at ExecuteTest on the op as given and
// when the op executes on the evaluated values.
#pragma once

#include <string>
#include <string_view>

#include <rapidjson/document.h>

#include "ops/base/clock.h"
#include "ops/net/http_client.h"
#include "ops/protocol/op_protocol.h"
#include "ops/net/url.h"

namespace testrund::ops {

// True when `text` is a non-empty HTTP token (RFC 9110 tchar: method and header names).
bool IsHttpToken(std::string_view text);

// `arguments.url` (required) into *url and its text into *text. `allow_tcp`: tcp:// and
// tls:// are accepted too (jsonrpc's length-prefixed framing).
void ReadUrl(ArgCheck& check, const rapidjson::Value& args, bool allow_tcp, Url* url,
             std::string* text);

// `arguments.headers`: an object of token name -> string (or number), no CR or LF.
void ReadHeaders(ArgCheck& check, const rapidjson::Value& args, HeaderList* out);

// The request target of http and jsonrpc: `url`, `timeout` (default kDefaultHttpTimeout),
// `tls` and `headers`. Whether TLS is used follows the URL's scheme; `tls` only says how.
void ReadHttpTarget(ArgCheck& check, const rapidjson::Value& args, bool allow_tcp, Url* url,
                    std::string* url_text, MonoNs* timeout, std::string* timeout_text,
                    TlsOptions* tls, HeaderList* headers);

}  // namespace testrund::ops
