// SPDX-License-Identifier: Apache-2.0
// Integers and numbers as clients write them: N2SVCD clients send numbers both as JSON
// numbers and as decimal strings ("41", "0.5"), so every reader of client input accepts
// both, through these two parsers and no other.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <rapidjson/document.h>

namespace testrund::ops {

// A JSON integer, a JSON number with an integral value up to 2^53 in magnitude (41.0), or
// a decimal string: an optional '-' and digits, nothing else ("41", "-3"; not "+41",
// " 41", "41.0", "0x10"), within int64. nullopt for anything else, a JSON integer beyond
// int64 included.
std::optional<int64_t> ParseInteger(const rapidjson::Value& value);

// A finite JSON number, or a string that is wholly a finite decimal number ("0.5", "1e3";
// not "+1", " 1", "inf", "nan", "0x10").
std::optional<double> ParseNumber(const rapidjson::Value& value);

// A number written as a JSON number would be: integral values without a fraction ("1"),
// others in shortest round-trip form ("0.5"). For texts that quote bounds and durations.
std::string NumberText(double value);

}  // namespace testrund::ops
