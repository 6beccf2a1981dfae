-- SPDX-License-Identifier: Apache-2.0
-- The pure-Lua floor of scenario 1 (test/bench/bench.py): the work of one 3-expression
-- instance (`eval v.n = instance`, `assert v.n >= 0`, `eval g.c = (g.c or 0) + 1`) done
-- by a plain Lua 5.4 loop: a fresh `v` table and three function calls per instance.
-- No engine can run these instances faster than this.
--   lua5.4 lua_floor.lua N      prints {"instances": N, "seconds": s, "per_second": r}
local n = tonumber(arg[1]) or 1000000
local g = {}
local set_n = function(v, instance) v.n = instance end
local check = function(v) return v.n >= 0 end
local count = function() g.c = (g.c or 0) + 1 end
local clock = os.clock
local t0 = clock()
for instance = 0, n - 1 do
  local v = {}
  set_n(v, instance)
  if not check(v) then error("assert failed") end
  count()
end
local seconds = clock() - t0
assert(g.c == n)
print(string.format('{"instances": %d, "seconds": %.6f, "per_second": %.1f}',
                    n, seconds, n / seconds))
