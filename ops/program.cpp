// SPDX-License-Identifier: Apache-2.0
// Program validation and compilation (see program.h). Every attribute check is driven by
// the op table (ops/op_table.h); this file only knows the attribute kinds, and hands the
// inside of a protocol op's `arguments` and `expect` to its family's validator.
#include "ops/program.h"

#include <algorithm>
#include <cmath>
#include <string_view>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>

#include "ops/base/json_numbers.h"
#include "ops/base/json_writer.h"
#include "ops/base/param_reader.h"

namespace testrund::ops {
namespace {

// The attributes a protocol op may take; a type that declares none of them refuses them.
constexpr std::string_view kProtocolParts[] = {"arguments", "expect", "mandatory"};

NumberRange SecondsRange(double max_seconds) {
  return NumberRange{.min = 0, .max = std::min(max_seconds, kMaxSeconds), .min_exclusive = true};
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

bool Declares(const OpTypeSpec& type, std::string_view path) {
  for (const AttributeSpec& spec : type.attributes) {
    if (spec.path == path) return true;
  }
  return false;
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

  // Validates every attribute of `op` against its type's rows, then what the type's own
  // validator checks inside `arguments` and `expect`.
  void Attributes(const rapidjson::Value& json, Op& op) {
    const OpTypeSpec& type = *op.type;
    for (const AttributeSpec& spec : type.attributes) Attribute(json, spec, op);
    if (!type.needs_io) return;
    for (std::string_view part : kProtocolParts) {
      auto it = json.FindMember(rapidjson::StringRef(part.data(), part.size()));
      if (it != json.MemberEnd() && !it->value.IsNull() && !Declares(type, part)) {
        Add(op.idx, std::string(part), fmt::format("is not used by {}", type.name));
      }
    }
    if (type.validate == nullptr) return;
    static const rapidjson::Value kNone;  // absent: its readers read nothing
    auto member = [&](const char* name) -> const rapidjson::Value& {
      auto it = json.FindMember(name);
      return it == json.MemberEnd() ? kNone : it->value;
    };
    ParamReader arguments(member("arguments"), problems_,
                          {.op_idx = op.idx, .prefix = "arguments.", .defer_expressions = true});
    ParamReader expect(member("expect"), problems_,
                       {.op_idx = op.idx, .prefix = "expect.", .defer_expressions = true});
    type.validate(arguments, expect);
  }

  // Resolves the labels collected by Attribute(); call once every op has been seen.
  void ResolveLabels(std::vector<Op>& ops, const std::unordered_map<std::string, int>& labels) {
    for (const PendingLabel& pending : pending_labels_) {
      auto it = labels.find(pending.label);
      if (it == labels.end()) {
        Add(pending.op_idx, pending.field, "names no label: " + QuoteText(pending.label));
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

  void Attribute(const rapidjson::Value& json, const AttributeSpec& spec, Op& op) {
    std::string bad_parent;
    const rapidjson::Value* value = Lookup(json, spec.path, &bad_parent);
    if (!bad_parent.empty()) {
      // Several attributes share one parent ("arguments.seconds", "arguments.comment"):
      // report the parent once per op.
      if (!Reported(op.idx, bad_parent)) {
        Add(op.idx, bad_parent,
            "must be an object, got " + QuoteValue(json[bad_parent.c_str()]));
      }
      return;
    }
    std::string field(spec.path);
    if (value == nullptr || value->IsNull()) {
      if (spec.required) {
        Add(op.idx, field, "is required");
      } else if (spec.kind == AttrKind::kSeconds) {
        SetSeconds(op, spec, spec.default_seconds);
      }
      return;
    }
    switch (spec.kind) {
      case AttrKind::kLua:
        return Lua(*value, field, op);
      case AttrKind::kObject:
      case AttrKind::kFlag:
        if (!IsExpression(*value) && !(spec.kind == AttrKind::kObject ? value->IsObject()
                                                                       : value->IsBool())) {
          Add(op.idx, field,
              fmt::format("must be {}, got {}",
                          spec.kind == AttrKind::kObject ? "an object" : "true or false",
                          QuoteValue(*value)));
          return;
        }
        [[fallthrough]];
      case AttrKind::kTemplate:
        op.templates[static_cast<size_t>(spec.slot)] =
            ValueTemplate::Compile(*value, lua_, op.idx, field, problems_);
        return;
      case AttrKind::kLabel:
        if (!value->IsString()) {
          Add(op.idx, field, "must be a string (a label), got " + QuoteValue(*value));
          return;
        }
        pending_labels_.push_back(
            {op.idx, field, std::string(value->GetString(), value->GetStringLength()),
             spec.slot});
        return;
      case AttrKind::kSeconds:
        return Seconds(*value, spec, op);
    }
  }

  void Lua(const rapidjson::Value& value, const std::string& field, Op& op) {
    if (!value.IsString()) {
      Add(op.idx, field, "must be a string of Lua, got " + QuoteValue(value));
      return;
    }
    Result<int> ref = lua_.Compile(std::string_view(value.GetString(), value.GetStringLength()),
                                   fmt::format("=op {} ({})", op.idx, field));
    if (!ref.ok()) {
      Add(op.idx, field, ref.message());
      return;
    }
    op.expression_ref = ref.value();
  }

  void Seconds(const rapidjson::Value& value, const AttributeSpec& spec, Op& op) {
    op.max_seconds = spec.max_seconds;
    op.seconds_field = spec.path;
    if (IsExpression(value)) {
      op.seconds_template = true;
      op.templates[static_cast<size_t>(spec.slot)] =
          ValueTemplate::Compile(value, lua_, op.idx, std::string(spec.path), problems_);
      return;
    }
    std::optional<double> seconds = ReadSeconds(value, spec.max_seconds);
    if (!seconds) {
      Problem problem = SecondsProblem(spec.path, value, spec.max_seconds);
      problem.op_idx = op.idx;
      problems_->push_back(std::move(problem));
      return;
    }
    SetSeconds(op, spec, *seconds);
  }

  static void SetSeconds(Op& op, const AttributeSpec& spec, double seconds) {
    op.max_seconds = spec.max_seconds;
    op.seconds_field = spec.path;
    op.duration = static_cast<MonoNs>(std::llround(seconds * kNsPerSecond));
  }

  LuaSandbox& lua_;
  Problems* problems_;
  std::vector<PendingLabel> pending_labels_;
};

// The `label` and `type` of op `json` into `op`; false when the type is unusable (then its
// attributes are not checked).
bool ReadLabelAndType(const rapidjson::Value& json, const OpTable& op_types,
                      std::unordered_map<std::string, int>& labels, Op& op, Problems* problems) {
  ParamReader p(json, problems, {.op_idx = op.idx});
  if (std::optional<std::string_view> label = p.OptionalString("label")) {
    op.label = std::string(*label);
    auto [it, inserted] = labels.emplace(op.label, op.idx);
    if (!inserted) {
      p.AddProblem("label", fmt::format("{} is already the label of op {}", QuoteText(op.label),
                                        it->second));
    }
  }
  size_t before = problems->size();
  std::string_view type_name = p.RequiredString("type");
  if (problems->size() != before) return false;
  op.type = op_types.Find(type_name);
  if (op.type == nullptr) {
    p.AddProblem("type", "is unknown: " + QuoteText(type_name));
    return false;
  }
  return true;
}

}  // namespace

std::optional<double> ReadSeconds(const rapidjson::Value& value, double max_seconds) {
  return ReadNumber(value, SecondsRange(max_seconds));
}

Problem SecondsProblem(std::string_view field, const rapidjson::Value& value,
                       double max_seconds) {
  return Problem{-1, std::string(field),
                 NumberProblem(value, SecondsRange(max_seconds), "a number of seconds")};
}

std::unique_ptr<Program> Program::Build(const rapidjson::Value& operations, LuaSandbox& lua,
                                        const OpTable& op_types, size_t max_operations,
                                        Problems* problems) {
  size_t problems_before = problems->size();
  if (!operations.IsArray()) {
    problems->push_back({-1, "operations", "must be an array, got " + QuoteValue(operations)});
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
    Op& op = program->ops_.emplace_back();
    op.idx = static_cast<int>(i);
    if (!json.IsObject()) {
      validator.Add(op.idx, "", "must be an object, got " + QuoteValue(json));
      continue;
    }
    op.echo.CopyFrom(json, alloc);
    op.echo.RemoveMember("idx");
    op.echo.AddMember("idx", op.idx, alloc);
    op.echo_bytes = JsonText(op.echo).size();
    if (ReadLabelAndType(json, op_types, labels, op, problems)) validator.Attributes(json, op);
  }
  validator.ResolveLabels(program->ops_, labels);
  if (problems->size() != problems_before) return nullptr;
  return program;
}

}  // namespace testrund::ops
