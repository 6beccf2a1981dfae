# SPDX-License-Identifier: Apache-2.0
"""The invariants the soak asserts on QueryTest / CancelTest / ListTests results (docs/api.md
§3). Each function returns a list of problems (strings); empty means consistent."""

COUNT_KEYS = ("started", "finished", "failed", "aborted", "cancelled", "passed", "late",
              "halted", "running")
STATUSES = ("running", "paused", "completed", "cancelled", "failed")
MAX_HALTED_LISTED = 1000
MAX_BUCKETS = 20


def check_counts(c):
    """Invariants of a `counts` object, in progress or final."""
    problems = []
    missing = [k for k in COUNT_KEYS if not isinstance(c.get(k), int) or c[k] < 0]
    if missing:
        return [f"counts {missing} missing or not non-negative integers: {c}"]
    if c["running"] != c["started"] - c["finished"]:
        problems.append(f"running {c['running']} != started {c['started']} - finished "
                        f"{c['finished']}")
    if c["halted"] > c["running"]:
        problems.append(f"halted {c['halted']} > running {c['running']}")
    # Every finished instance passed, failed, aborted or was cancelled; one that failed a
    # check and was then cancelled counts in both failed and cancelled.
    ends = c["passed"] + c["aborted"] + c["cancelled"]
    if not ends <= c["finished"] <= ends + c["failed"]:
        problems.append(f"finished {c['finished']} is not within passed+aborted+cancelled "
                        f"{ends} .. that + failed {c['failed']}")
    return problems


def _sum(entries, key):
    return sum(e.get(key, 0) for e in entries)


def check_result(result, run_id):
    """Invariants of a QueryTest (or CancelTest) result."""
    problems = []
    if result.get("run_id") != run_id:
        problems.append(f"run_id {result.get('run_id')!r}, asked for {run_id!r}")
    status = result.get("status")
    if status not in STATUSES:
        return problems + [f"status {status!r}"]
    c = result.get("counts", {})
    problems += check_counts(c)
    if problems:
        return problems
    completed = result.get("completed")
    if completed != (1 if status in ("completed", "cancelled", "failed") else 0):
        problems.append(f"completed {completed!r} with status {status}")
    if status != "cancelled" and c["cancelled"] != 0:
        problems.append(f"cancelled {c['cancelled']} in a run with status {status}")
    buckets = result.get("buckets")
    if buckets is not None:
        if not 1 <= len(buckets) <= MAX_BUCKETS:
            problems.append(f"{len(buckets)} buckets")
        for key, count in (("num_calls_started", "started"), ("num_calls_finished", "finished")):
            if _sum(buckets, key) != c[count]:
                problems.append(f"sum of buckets' {key} {_sum(buckets, key)} != counts.{count} "
                                f"{c[count]}")
    elif "cancelled" not in result:  # QueryTest always has buckets
        problems.append("no buckets")
    halted = result.get("halted")
    if not isinstance(halted, list) or result.get("halted_total") != c["halted"]:
        problems.append(f"halted_total {result.get('halted_total')} != counts.halted "
                        f"{c['halted']}")
    elif len(halted) != min(c["halted"], MAX_HALTED_LISTED):
        problems.append(f"{len(halted)} halted listed, counts.halted {c['halted']}")
    if _sum(result.get("first_aborts", []), "count") != c["aborted"]:
        problems.append(f"first_aborts sum {_sum(result['first_aborts'], 'count')} != aborted "
                        f"{c['aborted']}")
    # Every instance with a failed check has its first fail listed: those that ended as
    # failed, some of the aborted ones and some of those still running.
    fails = _sum(result.get("first_fails", []), "count")
    if not c["failed"] <= fails <= c["failed"] + c["aborted"] + c["running"]:
        problems.append(f"first_fails sum {fails} not within failed {c['failed']} .. failed + "
                        f"aborted {c['aborted']} + running {c['running']}")
    if completed == 1:
        problems += _check_completed(result, c)
    elif "time_finish" in result or "duration" in result:
        problems.append("time_finish/duration in a run in progress")
    return problems


def _check_completed(result, c):
    problems = []
    if c["started"] != c["finished"]:
        problems.append(f"completed with started {c['started']} != finished {c['finished']}")
    if c["halted"] or result.get("halted"):
        problems.append(f"completed with {c['halted']} halted")
    if "time_finish" not in result or not isinstance(result.get("duration"), (int, float)) \
            or result["duration"] < 0:
        problems.append("completed without time_finish / a duration >= 0")
    if result.get("percent_complete", 100.0) != 100.0:
        problems.append(f"completed with percent_complete {result['percent_complete']}")
    return problems


def check_final(plan, result, resumed, exact):
    """A run's final result against what its plan predicts. `resumed`: the instances the
    soak resumed; `exact`: False when some call's outcome is unknown (the exact counts are
    then not checked)."""
    c = result["counts"]
    status = result["status"]
    problems = []
    if status == "cancelled":
        return problems  # only the general invariants hold; checked by check_result
    if status == "failed":
        limit = plan.max_failures
        if limit is None or c["failed"] + c["aborted"] <= limit:
            problems.append(f"status failed with failed {c['failed']} + aborted {c['aborted']}, "
                            f"max_failures {limit}")
        elif f"max_failures ({limit})" not in result.get("status_reason", ""):
            problems.append(f"status_reason {result.get('status_reason')!r}")
        if plan.expected_started is not None and c["started"] > plan.expected_started:
            problems.append(f"started {c['started']} > planned {plan.expected_started}")
    elif plan.expected_started is not None and c["started"] != plan.expected_started:
        problems.append(f"started {c['started']}, the distribution starts "
                        f"{plan.expected_started}")
    if status == "completed" and plan.max_failures is not None \
            and c["failed"] + c["aborted"] > plan.max_failures:
        problems.append(f"status completed with failed + aborted {c['failed'] + c['aborted']} "
                        f"> max_failures {plan.max_failures}")
    if result.get("globals", {}).get("n", 0) != c["started"]:
        problems.append(f"globals.n {result.get('globals', {}).get('n')} != started "
                        f"{c['started']} (op 0 counts every instance)")
    if exact:
        expected = plan.expected_counts(c["started"], resumed)
        got = {k: c[k] for k in expected}
        if got != expected:
            problems.append(f"counts {got}, predicted {expected} (resumed {len(resumed)})")
    return problems


def check_listed(entry):
    """One ListTests entry."""
    problems = []
    for key in ("run_id", "status", "time_start", "counts", "tags"):
        if key not in entry:
            problems.append(f"ListTests entry without {key}: {entry}")
    if not problems:
        problems += [f"ListTests {entry['run_id']}: {p}" for p in check_counts(entry["counts"])]
        if entry["status"] not in STATUSES or entry["status"] == "cancelled":
            problems.append(f"ListTests {entry['run_id']}: status {entry['status']!r}")
    return problems
