// SPDX-License-Identifier: Apache-2.0
// Program validation and compilation (see program.h). Every attribute check is driven by
// the op table (ops/op_table.cpp); this file only knows the attribute kinds.
#include "ops/program.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <string_view>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>

#include "ops/base/json_writer.h"

namespace testrund::ops {
namespace {

// A JSON string literal of `text` (quotes and escapes), for problem texts.
std::string Quote(std::string_view text) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  return std::string(buffer.GetString(), buffer.GetSize());
}

// `{...}` wholly wrapping a string makes it an expression (SPEC §4).
bool IsExpressionString(const rapidjson::Value& value) {
  if (!value.IsString()) return false;
  std::string_view s(value.GetString(), value.GetStringLength());
  return s.size() >= 2 && s.front() == '{' && s.back() == '}';
}

// Finds the member at dotted `path` inside `object`. Sets *bad_parent to the path prefix
// when an intermediate member exists but is not an object.
const rapidjson::Value* Lookup(const rapidjson::Value& object, std::string_view path,
                               std::string* bad_parent) {
  const rapidjson::Value* current = &object;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string_view name = path.substr(start, dot == std::string_view::npos ? dot : dot - start);
    auto it = current->FindMember(
        rapidjson::Value(rapidjson::StringRef(name.data(), name.size())));
    if (it == current->MemberEnd()) return nullptr;
    if (dot == std::string_view::npos) return &it->value;
    if (!it->value.IsObject()) {
      *bad_parent = std::string(path.substr(0, dot));
      return nullptr;
    }
    current = &it->value;
    start = dot + 1;
  }
}

class Validator {
 public:
  Validator(LuaSandbox& lua, Problems* problems) : lua_(lua), problems_(problems) {}

  void Add(int op_idx, std::string field, std::string problem) {
    problems_->push_back(Problem{op_idx, std::move(field), std::move(problem)});
  }

  // Whether op `op_idx` already has a problem on `field` (its problems are the last ones).
  bool Reported(int op_idx, std::string_view field) const {
    for (auto it = problems_->rbegin(); it != problems_->rend() && it->op_idx == op_idx; ++it) {
      if (it->field == field) return true;
    }
    return false;
  }

  // Validates one attribute of `op` against its spec.
  void Attribute(const rapidjson::Value& json, const AttributeSpec& spec, Op& op) {
    std::string bad_parent;
    const rapidjson::Value* value = Lookup(json, spec.path, &bad_parent);
    if (!bad_parent.empty()) {
      // Several attributes share one parent ("arguments.seconds", "arguments.comment"):
      // report the parent once per op.
      if (!Reported(op.idx, bad_parent)) {
        Add(op.idx, bad_parent, fmt::format("\"{}\" must be an object, got {}", bad_parent,
                                            JsonText(json[bad_parent.c_str()])));
      }
      return;
    }
    std::string field(spec.path);
    if (value == nullptr || value->IsNull()) {
      if (spec.required) {
        Add(op.idx, field, fmt::format("missing required attribute \"{}\"", field));
      } else if (spec.kind == AttrKind::kSeconds) {
        SetSeconds(op, spec, spec.default_seconds);
      }
      return;
    }
    switch (spec.kind) {
      case AttrKind::kLua: {
        if (!value->IsString()) {
          Add(op.idx, field,
              fmt::format("\"{}\" must be a string of Lua, got {}", field, JsonText(*value)));
          return;
        }
        Result<int> ref = lua_.Compile(
            std::string_view(value->GetString(), value->GetStringLength()),
            fmt::format("=op {} ({})", op.idx, field));
        if (!ref.ok()) {
          Add(op.idx, field, ref.message());
          return;
        }
        op.expression_ref = ref.value();
        return;
      }
      case AttrKind::kTemplate:
        op.templates[static_cast<size_t>(spec.slot)] =
            ValueTemplate::Compile(*value, lua_, op.idx, field, problems_);
        return;
      case AttrKind::kLabel:
        if (!value->IsString()) {
          Add(op.idx, field,
              fmt::format("\"{}\" must be a label string, got {}", field, JsonText(*value)));
          return;
        }
        pending_labels_.push_back(
            {op.idx, field, std::string(value->GetString(), value->GetStringLength()),
             spec.slot});
        return;
      case AttrKind::kSeconds: {
        op.max_seconds = spec.max_seconds;
        if (IsExpressionString(*value)) {
          op.seconds_template = true;
          op.templates[static_cast<size_t>(spec.slot)] =
              ValueTemplate::Compile(*value, lua_, op.idx, field, problems_);
          return;
        }
        double seconds = 0;
        std::string name = field.substr(field.rfind('.') + 1);
        if (!ParseSeconds(*value, &seconds)) {
          Add(op.idx, field,
              fmt::format("\"{}\" must be a number of seconds, got {}", name, JsonText(*value)));
          return;
        }
        if (!(seconds > 0) || seconds > spec.max_seconds) {
          Add(op.idx, field, std::isinf(spec.max_seconds)
                                 ? fmt::format("\"{}\" must be > 0, got {}", name,
                                               JsonText(*value))
                                 : fmt::format("\"{}\" must be > 0 and <= {}, got {}", name,
                                               SecondsText(spec.max_seconds), JsonText(*value)));
          return;
        }
        if (seconds > kMaxSeconds) {
          Add(op.idx, field, fmt::format("\"{}\" must be <= {}, got {}", name,
                                         SecondsText(kMaxSeconds), JsonText(*value)));
          return;
        }
        SetSeconds(op, spec, seconds);
        return;
      }
    }
  }

  static void SetSeconds(Op& op, const AttributeSpec& spec, double seconds) {
    op.max_seconds = spec.max_seconds;
    op.duration = static_cast<MonoNs>(std::llround(seconds * kNsPerSecond));
    op.seconds_text = SecondsText(seconds);
  }

  // Resolves the labels collected by Attribute(); call once every op has been seen.
  void ResolveLabels(std::vector<Op>& ops, const std::unordered_map<std::string, int>& labels) {
    for (const PendingLabel& pending : pending_labels_) {
      auto it = labels.find(pending.label);
      if (it == labels.end()) {
        Add(pending.op_idx, pending.field,
            fmt::format("label {} is not defined", Quote(pending.label)));
        continue;
      }
      Op& op = ops[static_cast<size_t>(pending.op_idx)];
      (pending.slot == Slot::kOnTrue ? op.on_true : op.on_false) = it->second;
    }
  }

 private:
  struct PendingLabel {
    int op_idx;
    std::string field;
    std::string label;
    Slot slot;
  };
  LuaSandbox& lua_;
  Problems* problems_;
  std::vector<PendingLabel> pending_labels_;
};

}  // namespace

std::string SecondsText(double seconds) {
  if (seconds == std::floor(seconds) && std::fabs(seconds) < 1e15) {
    return fmt::format("{}", static_cast<int64_t>(seconds));
  }
  return fmt::format("{}", seconds);
}

bool ParseSeconds(const rapidjson::Value& value, double* seconds) {
  if (value.IsNumber()) {
    *seconds = value.GetDouble();
    return std::isfinite(*seconds);
  }
  if (!value.IsString() || value.GetStringLength() == 0) return false;
  std::string text(value.GetString(), value.GetStringLength());
  // strtod accepts "inf", "nan", hex and leading space; a decimal number is asked for.
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E')) {
      return false;
    }
  }
  char* end = nullptr;
  errno = 0;
  double parsed = std::strtod(text.c_str(), &end);
  if (errno != 0 || end != text.c_str() + text.size() || !std::isfinite(parsed)) return false;
  *seconds = parsed;
  return true;
}

std::unique_ptr<Program> Program::Build(const rapidjson::Value& operations, LuaSandbox& lua,
                                        size_t max_operations, Problems* problems) {
  size_t problems_before = problems->size();
  if (!operations.IsArray()) {
    problems->push_back(
        {-1, "operations", fmt::format("must be an array, got {}", JsonText(operations))});
    return nullptr;
  }
  if (operations.Empty() || operations.Size() > max_operations) {
    problems->push_back({-1, "operations",
                         fmt::format("must hold 1 to {} operations, got {}", max_operations,
                                     operations.Size())});
    return nullptr;
  }
  std::unique_ptr<Program> program(new Program());
  auto& alloc = program->echoes_.GetAllocator();
  Validator validator(lua, problems);
  std::unordered_map<std::string, int> labels;
  program->ops_.reserve(operations.Size());
  for (rapidjson::SizeType i = 0; i < operations.Size(); ++i) {
    const rapidjson::Value& json = operations[i];
    int idx = static_cast<int>(i);
    Op& op = program->ops_.emplace_back();
    op.idx = idx;
    if (!json.IsObject()) {
      validator.Add(idx, "", fmt::format("operation must be an object, got {}", JsonText(json)));
      continue;
    }
    op.echo.CopyFrom(json, alloc);
    op.echo.RemoveMember("idx");
    op.echo.AddMember("idx", idx, alloc);
    op.echo_bytes = JsonText(op.echo).size();

    auto label = json.FindMember("label");
    if (label != json.MemberEnd() && !label->value.IsNull()) {
      if (!label->value.IsString()) {
        validator.Add(idx, "label",
                      fmt::format("\"label\" must be a string, got {}", JsonText(label->value)));
      } else {
        op.label.assign(label->value.GetString(), label->value.GetStringLength());
        auto [it, inserted] = labels.emplace(op.label, idx);
        if (!inserted) {
          validator.Add(idx, "label", fmt::format("duplicate label {} (first defined at op {})",
                                                  Quote(op.label), it->second));
        }
      }
    }

    auto type = json.FindMember("type");
    if (type == json.MemberEnd()) {
      validator.Add(idx, "type", "missing required attribute \"type\"");
      continue;
    }
    if (!type->value.IsString()) {
      validator.Add(idx, "type",
                    fmt::format("\"type\" must be a string, got {}", JsonText(type->value)));
      continue;
    }
    std::string_view type_name(type->value.GetString(), type->value.GetStringLength());
    op.type = FindOpType(type_name);
    if (op.type == nullptr) {
      validator.Add(idx, "type", fmt::format("unknown operation type {}", Quote(type_name)));
      continue;
    }
    for (const AttributeSpec& spec : op.type->attributes) validator.Attribute(json, spec, op);
    if (op.type->validate != nullptr) op.type->validate(json, idx, problems);
  }
  validator.ResolveLabels(program->ops_, labels);
  if (problems->size() != problems_before) return nullptr;
  return program;
}

}  // namespace testrund::ops
