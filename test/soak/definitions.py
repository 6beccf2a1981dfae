# SPDX-License-Identifier: Apache-2.0
"""Random test definitions for the soak driver, each with the outcome of every instance
predicted in Python.

A definition mixes eval, wait, branch, assert (fail and abort), a Lua error, a loop and a
halt, under a random distribution (single, load, linear with total, duration or stages),
sometimes with max_failures, turbo, tags and a seed. Whether instance k passes, fails or
aborts depends only on k — except at the halt, where it depends on whether the soak resumed
it (then it goes on) or not (then it aborts with the halt's timeout text). So for a run that
was not cancelled, `Plan.expected_counts(started, resumed)` gives the exact passed / failed /
aborted counts the daemon must report.
"""

import math

HALT_TAG = "halts"


class Plan:
    """One definition (`params`, ready for ExecuteTest) and the rules that decide each
    instance's outcome."""

    def __init__(self, params, rules, expected_started):
        self.params = params
        self.rules = rules
        # Instances a completed (not failed, not cancelled) run starts, when exactly known.
        self.expected_started = expected_started

    @property
    def max_failures(self):
        return self.params.get("max_failures")

    @property
    def halts(self):
        return self.rules["halt_every"] is not None

    def outcome(self, k, resumed):
        """'passed', 'failed' or 'aborted' for instance k; `resumed` says whether the soak
        resumed it at its halt."""
        r = self.rules
        checks = not (r["turbo"] and k > 0)
        if r["error_every"] and k % r["error_every"] == 2:
            return "aborted"  # the Lua error() in op 1
        failed = False
        if checks and r["fail_every"]:
            skipped = r["branch_every"] and k % r["branch_every"] == 0
            failed = not skipped and k % r["fail_every"] == 0
        if checks and r["abort_every"] and k % r["abort_every"] == 1:
            return "aborted"
        if r["halt_every"] and k % r["halt_every"] == 0 and not resumed:
            return "aborted"  # Halt timed out after N seconds.
        return "failed" if failed else "passed"

    def reaches_halt(self, k):
        """Whether instance k halts (so that a missing resume aborts it)."""
        r = self.rules
        if not r["halt_every"] or k % r["halt_every"] != 0:
            return False
        return self.outcome(k, resumed=True) != "aborted"

    def expected_counts(self, started, resumed):
        """passed / failed / aborted of instances 0..started-1; `resumed` is the set of
        instance ids the soak resumed."""
        counts = {"passed": 0, "failed": 0, "aborted": 0}
        for k in range(started):
            counts[self.outcome(k, k in resumed)] += 1
        return counts


def _distribution(rng, span):
    """(distribution, instances it starts when it runs to its end, or None if unknown).
    Starting lasts at most about `span` seconds."""
    kind = rng.choices(["single", "load", "linear", "duration", "stages"],
                       weights=[1, 4, 4, 2, 1])[0]
    if kind == "single":
        return {"type": "single"}, 1
    if kind == "load":
        total = rng.randint(1, 400)
        # At most about `span` (and ten) rounds of backlog: a run lasts seconds, not minutes.
        rounds = max(2, min(10, int(span)))
        backlog = rng.randint(max(1, total // rounds), max(total // rounds, 60))
        return {"type": "load", "total": total, "backlog": backlog}, total
    if kind == "linear":
        rate = rng.choice([2, 5, 10.5, 25, 50, 120])
        total = rng.randint(1, int(rate * rng.uniform(0.5, span)) + 1)
        return {"type": "linear", "rate": rate, "total": total,
                "backlog": rng.randint(5, 200)}, total
    if kind == "duration":
        rate = rng.choice([3, 10, 40, 100])
        duration = rng.choice([d for d in (0.5, 1, 2.5, 5, 8) if d <= span] or [span])
        # The end of `duration` is exclusive: rate r for d seconds starts ceil(r*d).
        return {"type": "linear", "rate": rate, "duration": duration}, math.ceil(rate * duration)
    stage = min(2.0, span / 4)
    stages = [{"duration": rng.choice([stage / 4, stage / 2, stage]),
               "rate": rng.choice([0, 5, 20, 60])} for _ in range(rng.randint(1, 4))]
    distribution = {"type": "linear", "stages": stages}
    if rng.random() < 0.5:
        distribution["rate"] = 10  # the rate before the first stage (else 0)
    return distribution, None


def _rules(rng, span):
    def every(p, lo, hi):
        return rng.randint(lo, hi) if rng.random() < p else None
    return {
        "turbo": rng.random() < 0.15,
        "error_every": every(0.2, 5, 40),
        "fail_every": every(0.6, 2, 30),
        "branch_every": every(0.4, 2, 5),
        "abort_every": every(0.4, 3, 50),
        "halt_every": every(0.25, 1, 25),
        "loop": rng.choice([0, 0, 2, 4]),
        "wait": rng.choice([w for w in (None, 0.01, 0.05, 0.2, 0.5, 1.0) if (w or 0) <= span / 8]),
    }


def _operations(rng, r):
    ops = [{"type": "eval", "expression": "v.k = instance; g.n = (g.n or 0) + 1"}]
    if r["error_every"]:
        ops.append({"type": "eval", "expression":
                    f"if v.k % {r['error_every']} == 2 then error('soak: lua error', 0) end"})
    if r["wait"]:
        ops.append({"type": "wait", "arguments": {"seconds": r["wait"]}})
    if r["fail_every"]:
        if r["branch_every"]:
            ops.append({"type": "branch", "expression": f"v.k % {r['branch_every']} == 0",
                        "on_true": "after_fail"})
        ops.append({"type": "assert", "expression": f"v.k % {r['fail_every']} ~= 0",
                    "fail": "{'soak: fail at ' .. v.k}" if rng.random() < 0.5 else "soak: fail"})
        ops.append({"type": "comment", "label": "after_fail", "text": "{'k=' .. v.k}"})
    if r["abort_every"]:
        ops.append({"type": "assert", "expression": f"v.k % {r['abort_every']} ~= 1",
                    "abort": "soak: abort"})
    if r["loop"]:
        ops.append({"type": "eval", "label": "loop", "expression": "v.n = (v.n or 0) + 1"})
        ops.append({"type": "wait", "arguments": {"seconds": 0.01}})
        ops.append({"type": "branch", "expression": f"v.n < {r['loop']}", "on_true": "loop"})
    if r["halt_every"]:
        ops.append({"type": "branch", "expression": f"v.k % {r['halt_every']} ~= 0",
                    "on_true": "end"})
        ops.append({"type": "halt", "arguments": {"seconds": rng.choice([1, 2, 3, 4]),
                                                  "comment": "soak: resume me"},
                    "soak_note": "echoed in halted[]"})
        ops.append({"type": "assert", "expression": "v.resumed == 1", "abort": "not resumed"})
    ops.append({"type": "eval", "label": "end", "expression": "v.done = true"})
    return ops


def random_plan(rng, run_id=None, span=12.0):
    """A random valid definition; `run_id` None lets the daemon assign one. Its instances
    start within about `span` seconds."""
    distribution, started = _distribution(rng, span)
    r = _rules(rng, span)
    params = {"operations": _operations(rng, r), "distribution": distribution,
              "vars": {"resumed": 0}, "tags": ["soak"]}
    if r["halt_every"]:
        params["tags"].append(HALT_TAG)
    if r["turbo"]:
        params["turbo"] = 1
    if rng.random() < 0.3:
        params["max_failures"] = rng.randint(0, 20)
    if rng.random() < 0.3:
        params["seed"] = rng.randint(-2**63, 2**63 - 1)
    if rng.random() < 0.2:
        params["trace_level"] = rng.randint(1, 3)
    if run_id is not None:
        params["run_id"] = run_id
    return Plan(params, r, started)


def invalid_definition(rng):
    """A definition ExecuteTest must refuse with -32602 (no run created)."""
    return rng.choice([
        {"operations": []},
        {"operations": [{"type": "nosuch"}]},
        {"operations": [{"type": "eval", "expression": "v.x = = 1"}]},
        {"operations": [{"type": "branch", "expression": "true", "on_true": "nowhere"}]},
        {"operations": [{"type": "halt", "arguments": {"seconds": 601}}]},
        {"operations": [{"type": "wait"}]},
        {"operations": [{"type": "eval", "expression": "1"}],
         "distribution": {"type": "linear", "rate": 0}},
        {"operations": [{"type": "eval", "expression": "1"}], "run_id": "bad id with spaces"},
    ])
