// SPDX-License-Identifier: Apache-2.0
// A JSON-RPC client for the run-method integration tests (engine_test, run_methods_test,
// server_limits_test): one call = one parsed response, over HTTP (one keep-alive socket) or
// the length-prefixed framing (one connection per call), with an optional token (HTTP
// Bearer header, or the framed request's "auth" member). Plus polling helpers that wait for
// a run's progress through ListTests, which — unlike QueryTest — never discards a run.
//
//   RpcClient c(d, Framing::kHttp);
//   Reply r = c.Call("ExecuteTest", R"({"operations":[{"type":"eval","expression":"x=1"}]})");
//   std::string id = Str(r.result()["run_id"]);
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "test/integration/harness.h"

namespace testrund::test {

enum class Framing { kHttp, kFramed };

inline const char* FramingName(Framing f) { return f == Framing::kHttp ? "HTTP" : "framed"; }

// Compact JSON text of a value (for INFO and string comparisons).
inline std::string Dump(const rapidjson::Value& v) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  v.Accept(w);
  return std::string(sb.GetString(), sb.GetSize());
}

// A JSON string literal of `s`.
inline std::string Quoted(std::string_view s) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return std::string(sb.GetString(), sb.GetSize());
}

// QueryTest-style params: {"run_id": <run_id>}.
inline std::string RunIdParam(const std::string& run_id) {
  return R"({"run_id":)" + Quoted(run_id) + "}";
}

inline std::string Str(const rapidjson::Value& v) {
  REQUIRE(v.IsString());
  return std::string(v.GetString(), v.GetStringLength());
}

inline int64_t Int(const rapidjson::Value& v) {
  INFO("value: " << Dump(v));
  REQUIRE(v.IsInt64());
  return v.GetInt64();
}

// A [sec, usec] time array as seconds; REQUIREs the shape: two integers, usec < 1e6.
inline double TimeOf(const rapidjson::Value& v) {
  INFO("time: " << Dump(v));
  REQUIRE(v.IsArray());
  REQUIRE(v.Size() == 2);
  REQUIRE(v[0].IsInt64());
  REQUIRE(v[1].IsInt64());
  REQUIRE(v[0].GetInt64() > 1'600'000'000);
  REQUIRE(v[1].GetInt64() >= 0);
  REQUIRE(v[1].GetInt64() < 1'000'000);
  return static_cast<double>(v[0].GetInt64()) + static_cast<double>(v[1].GetInt64()) / 1e6;
}

// One parsed JSON-RPC response.
struct Reply {
  rapidjson::Document doc;
  std::string text;

  bool ok() const { return doc.IsObject() && doc.HasMember("result"); }
  const rapidjson::Value& result() const {
    INFO("response: " << text);
    REQUIRE(ok());
    return doc["result"];
  }
  const rapidjson::Value& error() const {
    INFO("response: " << text);
    REQUIRE(doc.IsObject());
    REQUIRE(doc.HasMember("error"));
    REQUIRE(doc["error"].IsObject());
    return doc["error"];
  }
  int code() const {
    const rapidjson::Value& e = error();
    REQUIRE(e["code"].IsInt());
    return e["code"].GetInt();
  }
  std::string message() const { return Str(error()["message"]); }
  // The -32602 data list; REQUIREs it to be an array.
  const rapidjson::Value& data() const {
    const rapidjson::Value& e = error();
    INFO("response: " << text);
    REQUIRE(e.HasMember("data"));
    REQUIRE(e["data"].IsArray());
    return e["data"];
  }
};

class RpcClient {
 public:
  RpcClient(const Daemon& daemon, Framing framing, std::string token = "")
      : daemon_(daemon), framing_(framing), token_(std::move(token)) {
    if (framing_ == Framing::kHttp) http_.emplace(daemon_.Http());
  }

  Framing framing() const { return framing_; }

  // `params` is JSON text ("" omits the member).
  Reply Call(std::string_view method, std::string_view params = "{}") {
    std::string body = R"({"jsonrpc":"2.0","id":)" + std::to_string(++next_id_) +
                       R"(,"method":)" + Quoted(method);
    if (!params.empty()) body += ",\"params\":" + std::string(params);
    if (framing_ == Framing::kFramed && !token_.empty()) body += ",\"auth\":" + Quoted(token_);
    body += "}";
    std::string text;
    if (framing_ == Framing::kHttp) {
      Headers headers;
      if (!token_.empty()) headers.emplace_back("Authorization", "Bearer " + token_);
      HttpResponse r = http_->Post("/", body, headers);
      INFO("request: " << body << "\nresponse: " << r.body);
      REQUIRE(r.status == 200);
      REQUIRE(r.Header("content-type") == "application/json");
      text = r.body;
    } else {
      std::optional<std::string> r = daemon_.Framed(body);
      INFO("request: " << body);
      REQUIRE(r.has_value());
      text = *r;
    }
    Reply reply{ParseJson(text), text};
    INFO("request: " << body << "\nresponse: " << text);
    REQUIRE(reply.doc.IsObject());
    REQUIRE(reply.doc["id"].IsInt());
    REQUIRE(reply.doc["id"].GetInt() == next_id_);
    return reply;
  }

  // ExecuteTest that must succeed; returns the run_id.
  std::string Execute(std::string_view params) {
    Reply r = Call("ExecuteTest", params);
    INFO("ExecuteTest " << params << " -> " << r.text);
    REQUIRE(r.ok());
    return Str(r.result()["run_id"]);
  }

  // The ListTests entry of `run_id` (a copy), or nullopt when it is not listed.
  std::optional<rapidjson::Document> Listed(const std::string& run_id) {
    Reply r = Call("ListTests", "{}");
    const rapidjson::Value& runs = r.result()["runs"];
    REQUIRE(runs.IsArray());
    for (const auto& run : runs.GetArray()) {
      if (Str(run["run_id"]) == run_id) {
        rapidjson::Document copy;
        copy.CopyFrom(run, copy.GetAllocator());
        return copy;
      }
    }
    return std::nullopt;
  }

  // Polls ListTests until `pred(entry)` holds for run_id's entry; REQUIREs it within
  // `timeout` seconds. Returns the entry that satisfied it.
  rapidjson::Document WaitListed(const std::string& run_id,
                                 const std::function<bool(const rapidjson::Value&)>& pred,
                                 double timeout = 20) {
    auto deadline = std::chrono::steady_clock::now() +
                    std::chrono::milliseconds(static_cast<int64_t>(timeout * 1000));
    std::string last = "(not listed)";
    while (true) {
      std::optional<rapidjson::Document> entry = Listed(run_id);
      if (entry) {
        if (pred(*entry)) return std::move(*entry);
        last = Dump(*entry);
      }
      INFO("run " << run_id << " last seen: " << last);
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  // Waits until counts.<name> == value (ListTests).
  rapidjson::Document WaitCount(const std::string& run_id, const char* name, int64_t value,
                                double timeout = 20) {
    return WaitListed(
        run_id,
        [&](const rapidjson::Value& e) {
          return e["counts"][name].IsInt64() && e["counts"][name].GetInt64() == value;
        },
        timeout);
  }

  // Waits until the run is no longer running/paused (ListTests), then returns the one
  // QueryTest that reports it completed (which discards it unless retention is set).
  Reply WaitCompleted(const std::string& run_id, double timeout = 20) {
    WaitListed(
        run_id,
        [](const rapidjson::Value& e) {
          std::string s = Str(e["status"]);
          return s != "running" && s != "paused";
        },
        timeout);
    Reply r = Call("QueryTest", R"({"run_id":)" + Quoted(run_id) + "}");
    REQUIRE(r.ok());
    REQUIRE(Int(r.result()["completed"]) == 1);
    return r;
  }

  Reply Query(const std::string& run_id) {
    return Call("QueryTest", R"({"run_id":)" + Quoted(run_id) + "}");
  }

 private:
  const Daemon& daemon_;
  Framing framing_;
  std::string token_;
  std::optional<HttpClient> http_;
  int next_id_ = 0;
};

}  // namespace testrund::test

// Runs the rest of the test case once per framing, one SECTION each; `var` names the
// Framing to use.
#define FOR_EACH_FRAMING(var)                                                    \
  ::testrund::test::Framing var = ::testrund::test::Framing::kHttp;               \
  SECTION("HTTP") { var = ::testrund::test::Framing::kHttp; }                     \
  SECTION("length-prefixed") { var = ::testrund::test::Framing::kFramed; }        \
  INFO("framing: " << ::testrund::test::FramingName(var))

// CHECKs that `value` equals the JSON text `expected` (objects compare regardless of member
// order; numbers by value). `value` is evaluated once (copied, so that it may live in a
// temporary Reply).
#define CHECK_JSON(value, expected)                                               \
  do {                                                                            \
    rapidjson::Document actual_doc_;                                              \
    actual_doc_.CopyFrom((value), actual_doc_.GetAllocator());                    \
    rapidjson::Document expected_doc_ = ::testrund::test::ParseJson(expected);    \
    INFO("actual:   " << ::testrund::test::Dump(actual_doc_));                    \
    INFO("expected: " << ::testrund::test::Dump(expected_doc_));                  \
    CHECK(actual_doc_ == expected_doc_);                                          \
  } while (false)
