// SPDX-License-Identifier: Apache-2.0
// An op's `arguments` or `expect` with the ParamReader a family's reader is given, for unit
// tests of those readers (http_args, socket_message). A reader runs at ExecuteTest on the op
// as given, where a `{...}` string is an expression not evaluated yet, or when the op
// executes, on the values the expressions produced (then `{...}` is plain text).
#pragma once

#include <rapidjson/document.h>

#include <catch2/catch.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "ops/base/param_reader.h"
#include "ops/base/problem.h"

namespace testrund::test {

enum class When { kValidating, kExecuting };

using Lines = std::vector<std::string>;

// The op index every problem of a part must carry.
constexpr int kPartOpIdx = 2;

class OpPart {
 public:
  OpPart(std::string_view prefix, std::string_view json, When when)
      : doc_(Parse(json)),
        reader_(doc_, &problems_,
                {.op_idx = kPartOpIdx,
                 .prefix = std::string(prefix),
                 .defer_expressions = when == When::kValidating}) {}

  ops::ParamReader& reader() { return reader_; }

  // Every problem as "field: problem", each checked to name the op it is about.
  Lines Problems() const {
    Lines out;
    for (const ops::Problem& p : problems_) {
      CHECK(p.op_idx == kPartOpIdx);
      out.push_back(p.field + ": " + p.problem);
    }
    return out;
  }

 private:
  static rapidjson::Document Parse(std::string_view json) {
    rapidjson::Document doc;
    doc.Parse(json.data(), json.size());
    INFO(json);
    REQUIRE_FALSE(doc.HasParseError());
    return doc;
  }

  rapidjson::Document doc_;
  ops::Problems problems_;
  ops::ParamReader reader_;
};

struct Arguments : OpPart {
  explicit Arguments(std::string_view json, When when = When::kValidating)
      : OpPart("arguments.", json, when) {}
};

struct Expect : OpPart {
  explicit Expect(std::string_view json, When when = When::kValidating)
      : OpPart("expect.", json, when) {}
};

}  // namespace testrund::test
