// SPDX-License-Identifier: Apache-2.0
// ValueTemplate: compiles the `{...}` strings of an op attribute once and evaluates them per
// execution. The given value is copied (escapes resolved) into a Document the template owns;
// a tree mirrors only the parts that hold expressions, so constant subtrees are copied, never
// walked, and an all-constant template is one CopyFrom.
#include "ops/lua/value_template.h"

#include "ops/base/json_writer.h"

#include <fmt/format.h>

#include <lua.hpp>
#include <utility>
#include <vector>

#include "ops/lua/lua_json.h"

namespace testrund::ops {
namespace {

struct Tree {
  enum class Kind { kConstant, kExpression, kObject, kArray };
  Kind kind = Kind::kConstant;
  const rapidjson::Value* constant = nullptr;  // kConstant: points into the owner's Document
  int fn_ref = LUA_NOREF;                      // kExpression
  std::vector<const rapidjson::Value*> names;  // kObject: member names (in the Document)
  std::vector<Tree> children;                  // kObject, kArray
};

bool IsBlank(std::string_view s) {
  return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

}  // namespace

struct ValueTemplate::Node {
  rapidjson::Document doc;  // the value as given, `\{` escapes resolved
  Tree tree;
};

namespace {

struct Compiler {
  LuaSandbox& lua;
  int op_idx;
  Problems* problems;
  rapidjson::Document::AllocatorType& alloc;

  // Fills `out` for `value` (inside the owner's Document, escapes resolved in place).
  void Build(rapidjson::Value& value, const std::string& field, Tree* out) {
    out->kind = Tree::Kind::kConstant;
    out->constant = &value;
    if (value.IsString()) {
      std::string_view s(value.GetString(), value.GetStringLength());
      if (s.size() >= 2 && s[0] == '\\' && s[1] == '{') {
        std::string literal(s.substr(1));
        value.SetString(literal.data(), static_cast<rapidjson::SizeType>(literal.size()),
                        alloc);
        return;
      }
      if (s.size() >= 2 && s.front() == '{' && s.back() == '}') CompileExpression(s, field, out);
      return;
    }
    if (value.IsObject()) {
      Tree node;
      node.kind = Tree::Kind::kObject;
      bool constant = true;
      for (auto& member : value.GetObject()) {
        std::string name(member.name.GetString(), member.name.GetStringLength());
        Tree child;
        Build(member.value, field.empty() ? name : field + "." + name, &child);
        constant = constant && child.kind == Tree::Kind::kConstant;
        node.names.push_back(&member.name);
        node.children.push_back(std::move(child));
      }
      if (!constant) *out = std::move(node);
      return;
    }
    if (value.IsArray()) {
      Tree node;
      node.kind = Tree::Kind::kArray;
      bool constant = true;
      rapidjson::SizeType i = 0;
      for (auto& element : value.GetArray()) {
        Tree child;
        Build(element, fmt::format("{}{}{}", field, field.empty() ? "" : ".", i++), &child);
        constant = constant && child.kind == Tree::Kind::kConstant;
        node.children.push_back(std::move(child));
      }
      if (!constant) *out = std::move(node);
    }
  }

  void CompileExpression(std::string_view s, const std::string& field, Tree* out) {
    std::string_view code = s.substr(1, s.size() - 2);
    if (IsBlank(code)) {
      problems->push_back({op_idx, field,
                           fmt::format("empty Lua expression \"{}\" (write \"\\{}\" for the "
                                       "literal text)",
                                       s, s)});
      return;
    }
    Result<int> ref = lua.Compile(code, fmt::format("=op {} ({})", op_idx, field),
                                  LuaSandbox::CompileMode::kExpression);
    if (!ref.ok()) {
      problems->push_back(
          {op_idx, field,
           fmt::format("{} (a string wholly in {{...}} is a Lua expression; start it with "
                       "\\{{ for literal text)",
                       ref.message())});
      return;
    }
    out->kind = Tree::Kind::kExpression;
    out->constant = nullptr;
    out->fn_ref = ref.value();
  }
};

LuaFailure EvaluateTree(const Tree& tree, LuaSandbox& lua, const EvalScope& scope,
                        rapidjson::Value& out, rapidjson::Document::AllocatorType& alloc,
                        std::string* error) {
  switch (tree.kind) {
    case Tree::Kind::kConstant:
      out.CopyFrom(*tree.constant, alloc);
      return LuaFailure::kNone;
    case Tree::Kind::kExpression: {
      LuaFailure failure = lua.Call(tree.fn_ref, scope, error);
      if (failure != LuaFailure::kNone) return failure;
      ToJson(lua.state(), -1, out, alloc);
      lua_pop(lua.state(), 1);
      return LuaFailure::kNone;
    }
    case Tree::Kind::kObject:
      out.SetObject();
      for (size_t k = 0; k < tree.children.size(); ++k) {
        rapidjson::Value name(*tree.names[k], alloc);
        rapidjson::Value value;
        LuaFailure failure = EvaluateTree(tree.children[k], lua, scope, value, alloc, error);
        if (failure != LuaFailure::kNone) return failure;
        out.AddMember(name, value, alloc);
      }
      return LuaFailure::kNone;
    case Tree::Kind::kArray:
      out.SetArray();
      out.Reserve(static_cast<rapidjson::SizeType>(tree.children.size()), alloc);
      for (const Tree& child : tree.children) {
        rapidjson::Value value;
        LuaFailure failure = EvaluateTree(child, lua, scope, value, alloc, error);
        if (failure != LuaFailure::kNone) return failure;
        out.PushBack(value, alloc);
      }
      return LuaFailure::kNone;
  }
  return LuaFailure::kNone;
}

}  // namespace

ValueTemplate::ValueTemplate() = default;
ValueTemplate::~ValueTemplate() = default;
ValueTemplate::ValueTemplate(ValueTemplate&&) noexcept = default;
ValueTemplate& ValueTemplate::operator=(ValueTemplate&&) noexcept = default;

ValueTemplate ValueTemplate::Compile(const rapidjson::Value& value, LuaSandbox& lua, int op_idx,
                                     std::string_view field, Problems* problems) {
  ValueTemplate result;
  result.root_ = std::make_unique<Node>();
  Node& node = *result.root_;
  node.doc.CopyFrom(value, node.doc.GetAllocator());
  Compiler compiler{lua, op_idx, problems, node.doc.GetAllocator()};
  // The Document is itself the root Value.
  compiler.Build(node.doc, std::string(field), &node.tree);
  return result;
}

bool ValueTemplate::empty() const { return root_ == nullptr; }

bool ValueTemplate::is_constant() const {
  return root_ == nullptr || root_->tree.kind == Tree::Kind::kConstant;
}

const rapidjson::Value& ValueTemplate::constant() const {
  static const rapidjson::Value kNull;
  return root_ != nullptr ? static_cast<const rapidjson::Value&>(root_->doc) : kNull;
}

LuaFailure ValueTemplate::Evaluate(LuaSandbox& lua, const EvalScope& scope,
                                   rapidjson::Value& out,
                                   rapidjson::Document::AllocatorType& alloc,
                                   std::string* error) const {
  if (root_ == nullptr) {
    out.SetNull();
    return LuaFailure::kNone;
  }
  return EvaluateTree(root_->tree, lua, scope, out, alloc, error);
}

LuaFailure ValueTemplate::EvaluateString(LuaSandbox& lua, const EvalScope& scope,
                                         std::string* out, std::string* error) const {
  if (root_ == nullptr) {
    out->clear();
    return LuaFailure::kNone;
  }
  const Tree& tree = root_->tree;
  if (tree.kind == Tree::Kind::kConstant) {
    const rapidjson::Value& value = root_->doc;
    if (value.IsString()) {
      out->assign(value.GetString(), value.GetStringLength());
    } else {
      *out = JsonText(value);
    }
    return LuaFailure::kNone;
  }
  if (tree.kind == Tree::Kind::kExpression) {
    LuaFailure failure = lua.Call(tree.fn_ref, scope, error);
    if (failure != LuaFailure::kNone) return failure;
    lua_State* L = lua.state();
    if (!LuaScalarText(L, -1, out)) {
      if (lua_type(L, -1) == LUA_TTABLE) {
        rapidjson::Document doc;
        ToJson(L, -1, doc, doc.GetAllocator());
        *out = JsonText(doc);
      } else {
        out->assign(luaL_typename(L, -1));
      }
    }
    lua_pop(L, 1);
    return LuaFailure::kNone;
  }
  rapidjson::Document doc;
  LuaFailure failure = EvaluateTree(tree, lua, scope, doc, doc.GetAllocator(), error);
  if (failure != LuaFailure::kNone) return failure;
  *out = JsonText(doc);
  return LuaFailure::kNone;
}

LuaFailure ValueTemplate::Push(LuaSandbox& lua, const EvalScope& scope,
                               std::string* error) const {
  if (root_ == nullptr) {
    lua_pushnil(lua.state());
    return LuaFailure::kNone;
  }
  const Tree& tree = root_->tree;
  if (tree.kind == Tree::Kind::kExpression) return lua.Call(tree.fn_ref, scope, error);
  LuaFailure failure;
  if (tree.kind == Tree::Kind::kConstant) {
    failure = PushJson(lua, root_->doc);
  } else {
    rapidjson::Document doc;
    failure = EvaluateTree(tree, lua, scope, doc, doc.GetAllocator(), error);
    if (failure != LuaFailure::kNone) return failure;
    failure = PushJson(lua, doc);
  }
  if (failure == LuaFailure::kMemoryLimit) {
    *error = fmt::format("Lua memory limit ({} bytes) exceeded", lua.limits().memory_limit);
  } else if (failure != LuaFailure::kNone) {
    *error = "value nested too deeply for Lua";
  }
  return failure;
}

}  // namespace testrund::ops
