// SPDX-License-Identifier: Apache-2.0
// ValueTemplate: an op attribute as given in the definition, where any string that is
// wholly wrapped in `{...}` is a Lua expression compiled at validation and evaluated when
// the op executes; `\{` at the start of a string escapes a literal brace (docs/operations.md).
// A template without expressions is a constant and costs nothing to evaluate.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <rapidjson/document.h>

#include "ops/lua/lua_sandbox.h"
#include "ops/base/problem.h"

namespace testrund::ops {

class ValueTemplate {
 public:
  ValueTemplate();
  ~ValueTemplate();
  ValueTemplate(ValueTemplate&&) noexcept;
  ValueTemplate& operator=(ValueTemplate&&) noexcept;

  // Compiles `value` (any JSON; strings at any depth may be `{...}`, compiled as Lua
  // expressions, chunk name "op <op_idx> (<field>)"). A Lua syntax error is appended to
  // `problems` as {op_idx, field path (object members joined by '.', array elements by
  // their index: "arguments.headers.X", "arguments.params.0"), Lua's message plus a hint
  // about `\{`}; an empty `{}` or `{ }` is a problem too (it is almost always meant as
  // the literal JSON text). The constant parts are copied; `value` need not outlive the
  // template.
  static ValueTemplate Compile(const rapidjson::Value& value, LuaSandbox& lua, int op_idx,
                               std::string_view field, Problems* problems);

  bool empty() const;        // no value was given
  bool is_constant() const;  // no `{...}` inside
  // The literal value with `\{` escapes resolved (only meaningful when is_constant()).
  const rapidjson::Value& constant() const;

  // Evaluates every expression and builds the resulting JSON value into `out` (null for an
  // empty template). Expression results convert as ToJson does (ops/lua/lua_json.h). On
  // failure `out` is unspecified and `*error` is as LuaSandbox::Call describes.
  LuaFailure Evaluate(LuaSandbox& lua, const EvalScope& scope, rapidjson::Value& out,
                      rapidjson::Document::AllocatorType& alloc, std::string* error) const;
  // Same, for attributes that need a string: a string is used as it is; nil, booleans and
  // numbers as Lua's tostring writes them ("nil", "true", "6", "6.0"); a table as its JSON
  // text (its tostring address would mean nothing to a reader); a constant non-string
  // value as its JSON text.
  LuaFailure EvaluateString(LuaSandbox& lua, const EvalScope& scope, std::string* out,
                            std::string* error) const;
  // Same, leaving exactly one value on the Lua stack on success (a table stays a table;
  // nil for an empty template); nothing on failure.
  LuaFailure Push(LuaSandbox& lua, const EvalScope& scope, std::string* error) const;

 private:
  struct Node;
  std::unique_ptr<Node> root_;
};

}  // namespace testrund::ops
