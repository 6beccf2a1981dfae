// SPDX-License-Identifier: Apache-2.0
// Reads the code array of a Lua 5.4 dump and classifies its opcodes (see
// straight_line_code.h).
#include "ops/lua/straight_line_code.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>
#include <lua.hpp>

namespace testrund::ops {
namespace {

static_assert(LUA_VERSION_NUM == 504, "the opcode table below is Lua 5.4's");

// Lua 5.4's opcodes (lopcodes.h, OP_MOVE = 0 in order) that this check treats specially;
// every opcode number from 0 to kOpExtraArg is one of Lua 5.4's.
enum Op : uint32_t {
  kOpGetUpval = 9,   // the upvalue itself as a value (for a main function: _ENV)
  kOpSetUpval = 10,
  kOpSetTabUp = 15,  // a global assignment (an upvalue's field set)
  kOpTbc = 55,       // marks a to-be-closed variable: its __close runs at scope exit
  kOpJmp = 56,       // signed jump: backward ones make loops
  kOpCall = 68,
  kOpTailCall = 69,
  kOpForLoop = 73,   // numeric and generic for loops
  kOpForPrep = 74,
  kOpTForPrep = 75,
  kOpTForCall = 76,
  kOpTForLoop = 77,
  kOpClosure = 79,
  kOpExtraArg = 82,  // the last opcode
};

constexpr uint32_t kOpMask = 0x7f;             // SIZE_OP = 7
constexpr int32_t kJumpOffset = (1 << 24) - 1;  // OFFSET_sJ: sJ is 25 bits above the opcode

bool MayRunLong(uint32_t instruction) {
  uint32_t op = instruction & kOpMask;
  switch (op) {
    case kOpTbc:
    case kOpCall:
    case kOpTailCall:
    case kOpForLoop:
    case kOpForPrep:
    case kOpTForPrep:
    case kOpTForCall:
    case kOpTForLoop:
    case kOpClosure:
      return true;
    case kOpJmp:
      return static_cast<int32_t>(instruction >> 7) - kJumpOffset < 0;
    default:
      return op > kOpExtraArg;
  }
}

// The dump's header (lundump.h's checkHeader): signature, version 0x54, format 0, the
// LUAC_DATA bytes, the sizes of Instruction, lua_Integer and lua_Number, LUAC_INT, LUAC_NUM;
// then the main function's upvalue count.
constexpr size_t kHeaderSize = 4 + 1 + 1 + 6 + 3 + sizeof(lua_Integer) + sizeof(lua_Number);

class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}
  bool Skip(size_t n) {
    if (bytes_.size() - at_ < n) return false;
    at_ += n;
    return true;
  }
  // lundump.c's loadSize: 7 bits a byte, most significant first, the last byte marked 0x80.
  bool ReadSize(size_t* out) {
    size_t x = 0;
    for (int n = 0; n < 10; ++n) {
      if (at_ >= bytes_.size()) return false;
      auto b = static_cast<unsigned char>(bytes_[at_++]);
      x = (x << 7) | (b & 0x7f);
      if ((b & 0x80) != 0) {
        *out = x;
        return true;
      }
    }
    return false;
  }
  size_t remaining() const { return bytes_.size() - at_; }
  const char* here() const { return bytes_.data() + at_; }

 private:
  std::string_view bytes_;
  size_t at_ = 0;
};

// Whether `instruction` may write a global, or take the environment itself as a value (and
// so write through it), or make a closure that could.
bool MayTouchEnvironment(uint32_t instruction) {
  uint32_t op = instruction & kOpMask;
  return op == kOpGetUpval || op == kOpSetUpval || op == kOpSetTabUp || op == kOpClosure ||
         op > kOpExtraArg;
}

// The code array of the main function in `dump`; nullopt when `dump` is not what this
// parser knows.
std::optional<std::vector<uint32_t>> MainCode(std::string_view dump) {
  if (dump.size() < kHeaderSize + 1 || dump.substr(0, 4) != LUA_SIGNATURE ||
      static_cast<unsigned char>(dump[4]) != 0x54 || dump[5] != 0 ||
      static_cast<unsigned char>(dump[12]) != sizeof(uint32_t)) {
    return std::nullopt;
  }
  Reader reader(dump);
  reader.Skip(kHeaderSize + 1);
  size_t source_size = 0;  // the source name: 0 when absent, else its length + 1
  size_t unused = 0;
  size_t code_size = 0;
  if (!reader.ReadSize(&source_size) || !reader.Skip(source_size > 0 ? source_size - 1 : 0) ||
      !reader.ReadSize(&unused) || !reader.ReadSize(&unused) ||  // linedefined, lastlinedefined
      !reader.Skip(3) ||  // numparams, is_vararg, maxstacksize
      !reader.ReadSize(&code_size) || reader.remaining() / sizeof(uint32_t) < code_size) {
    return std::nullopt;
  }
  std::vector<uint32_t> code(code_size);
  std::memcpy(code.data(), reader.here(), code_size * sizeof(uint32_t));
  return code;
}

}  // namespace

std::optional<size_t> StraightLineLength(std::string_view dump) {
  std::optional<std::vector<uint32_t>> code = MainCode(dump);
  if (!code || std::any_of(code->begin(), code->end(), MayRunLong)) return std::nullopt;
  return code->size();
}

bool ReadsGlobalsOnly(std::string_view dump) {
  std::optional<std::vector<uint32_t>> code = MainCode(dump);
  return code && std::none_of(code->begin(), code->end(), MayTouchEnvironment);
}

}  // namespace testrund::ops
