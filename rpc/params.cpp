// SPDX-License-Identifier: Apache-2.0
// Params: typed reads of by-name params with every problem collected (see params.h), and
// the -32602 error built from a list of problems.
#include "rpc/params.h"

#include "ops/base/json_writer.h"

#include <charconv>
#include <cmath>
#include <utility>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace testrund::rpc {
namespace {

constexpr size_t kMaxQuotedBytes = 60;   // longer strings are cut in problem texts
constexpr size_t kMaxMessageProblems = 3;  // problems spelled out in `message`
// Doubles up to 2^53 hold every integer exactly; beyond, "integral" means little.
constexpr double kMaxExactDouble = 9007199254740992.0;

std::string_view View(const rapidjson::Value& s) {
  return std::string_view(s.GetString(), s.GetStringLength());
}

// A decimal integer: optional '-', digits, nothing else.
std::optional<int64_t> ParseDecimal(std::string_view s) {
  if (s.empty() || s.front() == '+') return std::nullopt;
  int64_t out = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out, 10);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return out;
}

std::optional<double> ParseFiniteNumber(std::string_view s) {
  if (s.empty() || s.front() == '+') return std::nullopt;
  double out = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(out)) {
    return std::nullopt;
  }
  return out;
}

std::string FormatNumber(double d) { return ops::JsonText(rapidjson::Value(d)); }

std::string RangeText(int64_t min, int64_t max) {
  constexpr int64_t kLo = std::numeric_limits<int64_t>::min();
  constexpr int64_t kHi = std::numeric_limits<int64_t>::max();
  if (min != kLo && max != kHi) {
    return "between " + std::to_string(min) + " and " + std::to_string(max);
  }
  if (min != kLo) return "at least " + std::to_string(min);
  return "at most " + std::to_string(max);
}

std::string RangeText(double min, double max) {
  constexpr double kHi = std::numeric_limits<double>::max();
  if (min != -kHi && max != kHi) return "between " + FormatNumber(min) + " and " + FormatNumber(max);
  if (min != -kHi) return "at least " + FormatNumber(min);
  return "at most " + FormatNumber(max);
}

}  // namespace

std::string DescribeValue(const rapidjson::Value& v) {
  switch (v.GetType()) {
    case rapidjson::kNullType:
      return "null";
    case rapidjson::kFalseType:
      return "false";
    case rapidjson::kTrueType:
      return "true";
    case rapidjson::kObjectType:
      return "an object";
    case rapidjson::kArrayType:
      return "an array";
    case rapidjson::kStringType:
    case rapidjson::kNumberType:
      break;
  }
  if (v.IsNumber()) return ops::JsonText(v);
  std::string_view s = View(v);
  bool cut = s.size() > kMaxQuotedBytes;
  if (cut) {
    size_t n = kMaxQuotedBytes;
    // Do not split a UTF-8 sequence: back up over continuation bytes.
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
    s = s.substr(0, n);
  }
  std::string out = ops::JsonText(
      rapidjson::Value(rapidjson::StringRef(s.data(), static_cast<rapidjson::SizeType>(s.size()))));
  if (cut) out.insert(out.size() - 1, "...");
  return out;
}

RpcError InvalidParams(const ops::Problems& problems, Allocator& a) {
  std::string message(DefaultMessage(ErrorCode::kInvalidParams));
  rapidjson::Value data(rapidjson::kArrayType);
  data.Reserve(static_cast<rapidjson::SizeType>(problems.size()), a);
  size_t i = 0;
  for (const ops::Problem& p : problems) {
    if (i < kMaxMessageProblems) {
      message += i == 0 ? ": " : "; ";
      if (p.op_idx >= 0) message += "operations[" + std::to_string(p.op_idx) + "].";
      message += p.field;
      message += ' ';
      message += p.problem;
    }
    ++i;
    rapidjson::Value entry(rapidjson::kObjectType);
    if (p.op_idx >= 0) entry.AddMember("op_idx", p.op_idx, a);
    entry.AddMember("field", rapidjson::Value(p.field, a), a);
    entry.AddMember("problem", rapidjson::Value(p.problem, a), a);
    data.PushBack(entry, a);
  }
  if (problems.size() > kMaxMessageProblems) {
    message += " (and " + std::to_string(problems.size() - kMaxMessageProblems) + " more)";
  }
  return RpcError(ErrorCode::kInvalidParams, std::move(message), std::move(data));
}

const rapidjson::Value* Params::Get(std::string_view name) const {
  auto it = object_.FindMember(
      rapidjson::Value(rapidjson::StringRef(name.data(), name.size())));
  if (it == object_.MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

void Params::Missing(std::string_view name) {
  problems_.push_back({-1, std::string(name), "is required"});
}

void Params::WrongType(std::string_view name, std::string_view expected,
                       const rapidjson::Value& v) {
  std::string problem = "must be ";
  problem += expected;
  problem += ", got ";
  problem += DescribeValue(v);
  problems_.push_back({-1, std::string(name), std::move(problem)});
}

void Params::AddProblem(std::string field, std::string problem, int op_idx) {
  problems_.push_back({op_idx, std::move(field), std::move(problem)});
}

RpcError Params::Error(Allocator& allocator) const {
  return InvalidParams(problems_, allocator);
}

std::optional<std::string_view> Params::OptionalString(std::string_view name) {
  const rapidjson::Value* v = Get(name);
  if (v == nullptr) return std::nullopt;
  if (!v->IsString()) {
    WrongType(name, "a string", *v);
    return std::nullopt;
  }
  return View(*v);
}

std::string_view Params::RequiredString(std::string_view name) {
  if (Get(name) == nullptr) {
    Missing(name);
    return {};
  }
  return OptionalString(name).value_or(std::string_view());
}

std::optional<int64_t> Params::OptionalInt(std::string_view name, IntRange range) {
  const rapidjson::Value* v = Get(name);
  if (v == nullptr) return std::nullopt;
  std::optional<int64_t> n;
  if (v->IsInt64()) {
    n = v->GetInt64();
  } else if (v->IsDouble()) {
    double d = v->GetDouble();
    if (std::trunc(d) == d && std::fabs(d) <= kMaxExactDouble) n = static_cast<int64_t>(d);
  } else if (v->IsString()) {
    n = ParseDecimal(View(*v));
  }
  // A uint64 above INT64_MAX is an integer, just out of any range we accept.
  if (!n && !v->IsUint64()) {
    WrongType(name, "an integer", *v);
    return std::nullopt;
  }
  if (!n || *n < range.min || *n > range.max) {
    problems_.push_back({-1, std::string(name),
                         "must be " + RangeText(range.min, range.max) + ", got " +
                             DescribeValue(*v)});
    return std::nullopt;
  }
  return n;
}

int64_t Params::RequiredInt(std::string_view name, IntRange range) {
  if (Get(name) == nullptr) {
    Missing(name);
    return 0;
  }
  return OptionalInt(name, range).value_or(0);
}

std::optional<double> Params::OptionalNumber(std::string_view name, NumberRange range) {
  const rapidjson::Value* v = Get(name);
  if (v == nullptr) return std::nullopt;
  std::optional<double> d;
  if (v->IsNumber()) {
    d = v->GetDouble();
  } else if (v->IsString()) {
    d = ParseFiniteNumber(View(*v));
  }
  if (!d) {
    WrongType(name, "a number", *v);
    return std::nullopt;
  }
  if (*d < range.min || *d > range.max) {
    problems_.push_back({-1, std::string(name),
                         "must be " + RangeText(range.min, range.max) + ", got " +
                             DescribeValue(*v)});
    return std::nullopt;
  }
  return d;
}

double Params::RequiredNumber(std::string_view name, NumberRange range) {
  if (Get(name) == nullptr) {
    Missing(name);
    return 0;
  }
  return OptionalNumber(name, range).value_or(0);
}

std::optional<bool> Params::OptionalFlag(std::string_view name) {
  const rapidjson::Value* v = Get(name);
  if (v == nullptr) return std::nullopt;
  if (v->IsBool()) return v->GetBool();
  std::optional<int64_t> n;
  if (v->IsInt64()) {
    n = v->GetInt64();
  } else if (v->IsString()) {
    n = ParseDecimal(View(*v));
  }
  if (n && (*n == 0 || *n == 1)) return *n == 1;
  WrongType(name, "0 or 1", *v);
  return std::nullopt;
}

const rapidjson::Value* Params::OptionalObject(std::string_view name) {
  const rapidjson::Value* v = Get(name);
  if (v == nullptr) return nullptr;
  if (!v->IsObject()) {
    WrongType(name, "an object", *v);
    return nullptr;
  }
  return v;
}

const rapidjson::Value* Params::RequiredObject(std::string_view name) {
  if (Get(name) == nullptr) {
    Missing(name);
    return nullptr;
  }
  return OptionalObject(name);
}

const rapidjson::Value* Params::OptionalArray(std::string_view name) {
  const rapidjson::Value* v = Get(name);
  if (v == nullptr) return nullptr;
  if (!v->IsArray()) {
    WrongType(name, "an array", *v);
    return nullptr;
  }
  return v;
}

const rapidjson::Value* Params::RequiredArray(std::string_view name) {
  if (Get(name) == nullptr) {
    Missing(name);
    return nullptr;
  }
  return OptionalArray(name);
}

}  // namespace testrund::rpc
