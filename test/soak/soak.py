#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Soak test of testrund: many clients, random runs, for minutes; then checks that
nothing was lost, every count adds up, the daemon still answers and its memory came back.

    test/soak/soak.py [--minutes M | --seconds S] [--clients N] [--seed X] ...
    scripts/soak [MINUTES]

By default it starts its own daemon (build/daemon/testrund or $TESTRUND_BINARY, or
--binary) on 127.0.0.1:0 with an operator and an observer token and a results_dir in a
temporary directory. `--address HOST:PORT [--token T] [--pid PID]` targets a running daemon
instead (its RSS from /proc/PID, else from GetServerInfo.memory_bytes).

Phases: a warm-up (the same load, --warmup seconds), a drain (every run brought to its end),
the RSS baseline; the soak proper (--minutes); a drain; the final checks:
- every call answered as documented (unexpected errors and missing answers are violations);
- every QueryTest/CancelTest result consistent (docs/api.md §3): running = started -
  finished, halted <= running, sums of buckets = counts, first_aborts sum = aborted, and for
  completed runs started == finished, nothing halted, percent_complete 100;
- every run's final counts exactly as predicted from its definition (definitions.py) unless
  it was cancelled: passed, failed, aborted, started (for a known total), globals.n;
- no run lost: every run_id executed has a final result (QueryTest returned it completed,
  or we cancelled it), a -32001 never came before that; no discarded run is listed;
- with our own daemon, every run's results_dir file matches its final result;
- hostile connections got their documented answers, and the daemon kept answering;
- the daemon's RSS after the soak, with no runs left, is within --rss-tolerance (10 %) of the
  baseline after the warm-up.
Exit status 0 when all held, 1 on any violation (each printed), 2 when it could not run.
"""

import argparse
import itertools
import json
import os
import re
import secrets
import shutil
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path[:0] = [HERE, os.path.join(SOURCE_ROOT, "scripts"),
                os.path.join(SOURCE_ROOT, "test", "pylib")]
sys.dont_write_bytecode = True

import testrun  # noqa: E402
import hostile  # noqa: E402
from checks import check_final, check_listed, check_result, STATUSES  # noqa: E402
from daemon_process import DaemonProcess, read_rss_kib  # noqa: E402
from definitions import HALT_TAG, invalid_definition, random_plan  # noqa: E402
from runbook import RunBook, seeded_rng  # noqa: E402

OPERATOR_TOKEN = "soak-operator-" + secrets.token_hex(8)
OBSERVER_TOKEN = "soak-observer-" + secrets.token_hex(8)
NO_ANSWER = "no answer"


class Target:
    """The daemon under soak: where it listens, its tokens, how to read its RSS."""

    def __init__(self, host, port, token, observer_token, pid=None, daemon=None,
                 results_dir=None):
        self.host, self.port = host, port
        self.token, self.observer_token = token, observer_token
        self.pid, self.daemon, self.results_dir = pid, daemon, results_dir

    def client(self, framed, observer=False):
        token = self.observer_token if observer and self.observer_token else self.token
        if framed:
            return testrun.Client(framed=f"{self.host}:{self.port}", token=token)
        return testrun.Client(f"http://{self.host}:{self.port}", token=token)

    def rss_kib(self):
        if self.pid:
            return read_rss_kib(self.pid)
        with self.client(False) as c:
            return c.server_info()["memory_bytes"] // 1024

    def alive(self):
        return self.daemon is None or self.daemon.running()


class Caller:
    """JSON-RPC calls with the soak's bookkeeping: timing, counting, and a violation for
    every error that is not in `allowed` and every call that got no answer."""

    def __init__(self, book, client, observer_client, rng):
        self.book, self.client, self.rng = book, client, rng
        self.observer_client = observer_client

    def __call__(self, method, params, allowed=(), record=None, observer=None):
        if observer is None:
            observer = (method in ("QueryTest", "ListTests", "GetServerInfo")
                        and self.rng.random() < 0.3)
        client = self.observer_client if observer else self.client
        start = time.monotonic()
        try:
            return client.call(method, params), None
        except testrun.RpcError as e:
            if e.code in allowed:
                self.book.count(f"{method} -> {e.code}")
            else:
                self.book.violation(f"{method} {_short(params)}: unexpected error {e.code} "
                                    f"{e.message}")
            return None, e.code
        except testrun.TestrunError as e:
            self.book.violation(f"{method} {_short(params)}: {e}")
            if record is not None:
                record.uncertain.append(method)
            return None, NO_ANSWER
        finally:
            self.book.timed(method, time.monotonic() - start)
            self.book.count(f"calls: {method}")


def _short(params):
    text = json.dumps(params)
    return text if len(text) < 120 else text[:117] + "..."


class Worker(threading.Thread):
    """One client of the soak: picks an action at random, again and again, until stopped."""

    def __init__(self, index, target, book, seed, stop, max_live, run_ids, session, span=12.0):
        super().__init__(name=f"soak-client-{index}", daemon=True)
        self.target, self.book, self.stop_event = target, book, stop
        self.rng = seeded_rng(seed, index)
        self.max_live, self.run_ids, self.session = max_live, run_ids, session
        self.span = span
        framed = index % 2 == 1  # half the clients speak the length-prefixed framing
        self.call = Caller(book, target.client(framed), target.client(framed, observer=True),
                           self.rng)
        self.actions = [(self.execute, 10), (self.execute_invalid, 0.5), (self.query, 12),
                        (self.pause, 2), (self.unpause, 4), (self.resume, 8),
                        (self.cancel, 1.2), (self.list_tests, 3), (self.server_info, 1.5),
                        (self.hostile, 0.6)]

    def run(self):
        funcs = [a for a, _ in self.actions]
        weights = [w for _, w in self.actions]
        while not self.stop_event.is_set():
            action = self.rng.choices(funcs, weights)[0]
            try:
                action()
            except Exception:  # a bug in the soak itself, or an answer of the wrong shape
                self.book.violation(f"{self.name} {action.__name__}: "
                                    f"{traceback.format_exc(limit=3)}")
            self.stop_event.wait(self.rng.uniform(0, 0.02))

    # -- actions ---------------------------------------------------------------------------

    def execute(self):
        if len(self.book.live_runs()) >= self.max_live:
            return self.query()
        # Short ids (no heap allocation in the daemon's std::string) keep the 10-minute
        # quarantine of discarded ids cheap, so it does not blur the RSS comparison.
        run_id = None if self.rng.random() < 0.2 else f"s{self.session}-{next(self.run_ids)}"
        plan = random_plan(self.rng, run_id, self.span)
        result, _ = self.call("ExecuteTest", plan.params)
        if result is None:
            return
        if run_id is not None and result.get("run_id") != run_id:
            self.book.violation(f"ExecuteTest {run_id} returned run_id {result.get('run_id')}")
        self.book.add(result["run_id"], plan)

    def execute_invalid(self):
        params = invalid_definition(self.rng)
        result, code = self.call("ExecuteTest", params, allowed=(-32602,))
        if result is not None:
            self.book.violation(f"ExecuteTest accepted an invalid definition {_short(params)}")
            self.call("CancelTest", {"run_id": result["run_id"]})

    def query(self, record=None):
        record = record or self.book.pick_live(self.rng)
        if record is None:
            return None
        result, code = self.call("QueryTest", {"run_id": record.run_id}, allowed=(-32001,),
                                 record=record)
        record.queries += 1
        if code == -32001:
            self.book.gone(record)
        if result is None:
            return None
        for problem in check_result(result, record.run_id):
            self.book.violation(f"QueryTest {record.run_id}: {problem}")
        if result.get("completed") == 1:
            self.book.finish(record, result, "QueryTest")
        return result

    def pause(self):
        record = self.book.pick_live(self.rng, lambda r: not r.paused)
        if record is None:
            return
        result, code = self.call("PauseTest", {"run_id": record.run_id},
                                 allowed=(-32006, -32001), record=record)
        if result is not None:
            if result != {"run_id": record.run_id, "status": "paused"}:
                self.book.violation(f"PauseTest {record.run_id}: {result}")
            record.paused = True

    def unpause(self, record=None):
        record = record or self.book.pick_live(self.rng, lambda r: r.paused)
        if record is None:
            return
        result, code = self.call("UnpauseTest", {"run_id": record.run_id},
                                 allowed=(-32006, -32001), record=record)
        if result is not None and result != {"run_id": record.run_id, "status": "running"}:
            self.book.violation(f"UnpauseTest {record.run_id}: {result}")
        if code != NO_ANSWER:
            record.paused = False

    def resume(self, record=None, share=0.8):
        record = record or self.book.pick_live(self.rng, lambda r: r.plan.halts)
        if record is None:
            return
        result = self.query(record)
        if result is None:
            return
        for entry in result.get("halted", []):
            instance = entry.get("instance_id")
            op = entry.get("operation", {})
            if op.get("type") != "halt" or "idx" not in op or "soak_note" not in op:
                self.book.violation(f"{record.run_id}: halted entry {entry} does not echo the op")
            if not record.plan.reaches_halt(instance):
                self.book.violation(f"{record.run_id}: instance {instance} halted; its plan "
                                    f"says it never halts")
            if self.rng.random() > share:
                continue  # left to time out (it then aborts)
            wire_id = str(instance) if self.rng.random() < 0.3 else instance
            answer, code = self.call("ResumeInstance", {"run_id": record.run_id,
                                                        "instance_id": wire_id,
                                                        "vars": {"resumed": 1}},
                                     allowed=(-32004, -32001), record=record)
            if answer is not None:
                if answer != {"resumed": 1}:
                    self.book.violation(f"ResumeInstance {record.run_id} {instance}: {answer}")
                record.resumed.add(instance)
                self.book.count("instances resumed")
            elif code == -32001:
                self.book.gone(record)

    def cancel(self, record=None):
        record = record or self.book.pick_live(self.rng)
        if record is None:
            return
        result, code = self.call("CancelTest", {"run_id": record.run_id}, allowed=(-32001,),
                                 record=record)
        if code == -32001:
            self.book.gone(record)
        if result is None:
            return
        for problem in check_result(result, record.run_id):
            self.book.violation(f"CancelTest {record.run_id}: {problem}")
        if result.get("cancelled") not in (0, 1) or \
                (result.get("cancelled") == 1) != (result.get("status") == "cancelled"):
            self.book.violation(f"CancelTest {record.run_id}: cancelled "
                                f"{result.get('cancelled')} with status {result.get('status')}")
        self.book.finish(record, result, "CancelTest")

    def list_tests(self):
        params = self.rng.choice([{}, {"tag": "soak"}, {"tag": HALT_TAG},
                                  {"status": self.rng.choice(STATUSES)},
                                  {"status": "running", "tag": "soak"}])
        sent = time.monotonic()
        result, _ = self.call("ListTests", params)
        if result is None:
            return
        runs = result.get("runs", [])
        ids = [r.get("run_id") for r in runs]
        if ids != sorted(ids):
            self.book.violation(f"ListTests {params}: not in run_id order")
        for entry in runs:
            for problem in check_listed(entry):
                self.book.violation(problem)
            if "status" in params and entry.get("status") != params["status"]:
                self.book.violation(f"ListTests {params} listed a {entry.get('status')} run")
            if "tag" in params and params["tag"] not in entry.get("tags", []):
                self.book.violation(f"ListTests {params} listed {entry.get('run_id')} without "
                                    f"that tag")
            record = self.book.runs.get(entry.get("run_id"))
            if self.book.strict_discard and record is not None and record.final_at is not None \
                    and record.final_at < sent:
                self.book.violation(f"ListTests listed {record.run_id}, discarded after its "
                                    f"final {record.final_via}")

    def server_info(self):
        result, _ = self.call("GetServerInfo", {})
        if result is not None:
            missing = {"version", "time_start", "runs", "instances_live", "memory_bytes",
                       "lua_version"} - set(result)
            if missing:
                self.book.violation(f"GetServerInfo without {sorted(missing)}")

    def hostile(self):
        kind = self.rng.choice(hostile.KINDS)
        try:
            problem = kind((self.target.host, self.target.port), self.target.token)
        except OSError as e:
            problem = f"socket error {e}"
        self.book.count(f"hostile: {kind.__name__}")
        if problem:
            self.book.violation(f"hostile {kind.__name__}: {problem}")
        # The daemon must keep answering at once.
        start = time.monotonic()
        self.server_info()
        if time.monotonic() - start > 2.0:
            self.book.violation(f"GetServerInfo took {time.monotonic() - start:.2f} s after "
                                f"hostile {kind.__name__}")


def run_phase(target, book, args, seconds, run_ids, session, label):
    """Runs the client threads for `seconds`, printing progress now and then."""
    stop = threading.Event()
    workers = [Worker(i, target, book, f"{args.seed}-{label}", stop, args.max_live, run_ids,
                      session, args.run_span) for i in range(args.clients)]
    for w in workers:
        w.start()
    end = time.monotonic() + seconds
    next_report = time.monotonic() + args.progress
    while time.monotonic() < end:
        time.sleep(min(1.0, max(0.0, end - time.monotonic())))
        if not target.alive():
            book.violation("the daemon exited during the soak")
            break
        if time.monotonic() >= next_report:
            next_report += args.progress
            progress(book, target, label, end - time.monotonic())
    stop.set()
    for w in workers:
        w.join(60)
        if w.is_alive():
            book.violation(f"{w.name} did not stop within 60 s (a call hangs?)")


def progress(book, target, label, left):
    with book.lock:
        executed = book.stats["runs executed"]
        queries = book.stats["calls: QueryTest"]
        violations = len(book.violations)
    live = len(book.live_runs())
    try:
        rss = f"{target.rss_kib()} KiB"
    except (OSError, RuntimeError, testrun.TestrunError) as e:
        rss = f"? ({e})"
    print(f"soak: {label}: {left:5.0f} s left, {executed} runs, {live} live, {queries} "
          f"queries, RSS {rss}, {violations} violations", file=sys.stderr, flush=True)


def drain(target, book, seed, timeout):
    """Brings every live run to its end: unpauses it, resumes its halted instances, queries it
    until it is completed; cancels (and reports) whatever is still live after `timeout`."""
    worker = Worker(999, target, book, f"{seed}-drain", threading.Event(), 0, None, None)
    deadline = time.monotonic() + timeout
    while book.live_runs() and time.monotonic() < deadline:
        for record in book.live_runs():
            result = worker.query(record)
            if result is None or result.get("completed") == 1:
                continue
            if result.get("status") == "paused" or record.paused:
                worker.unpause(record)
            if result.get("halted"):
                worker.resume(record, share=1.0)
        time.sleep(0.2)
    for record in book.live_runs():
        if record.gone_at is not None:
            continue  # lost: reported by verify()
        book.violation(f"{record.run_id} did not complete within {timeout:.0f} s after the "
                       f"clients stopped; cancelling it")
        worker.cancel(record)


def wait_idle(target, book, timeout=10.0):
    """Polls until the daemon holds no run and no instance (our runs are all discarded)."""
    with target.client(False) as client:
        deadline = time.monotonic() + timeout
        while True:
            info = client.server_info()
            mine = [r for r in client.list_tests(tag="soak") if r["run_id"] in book.runs]
            if not mine and (target.daemon is None or
                             (info["runs"] == 0 and info["instances_live"] == 0)):
                return
            if time.monotonic() > deadline:
                book.violation(f"after the drain the daemon still has {info['runs']} runs, "
                               f"{info['instances_live']} instances, ours listed: "
                               f"{[r['run_id'] for r in mine][:10]}")
                return
            time.sleep(0.2)


def verify(target, book):
    """The end-of-soak checks on every run."""
    instances = 0
    for record in book.runs.values():
        if record.final is None:
            if record.gone_at is not None:
                book.violation(f"{record.run_id} lost: -32001 before any completed result "
                               f"or cancel of ours")
            else:
                book.violation(f"{record.run_id} has no final result")
            continue
        instances += record.final["counts"]["started"]
        for problem in check_final(record.plan, record.final, record.resumed,
                                   exact=not record.uncertain):
            book.violation(f"{record.run_id} ({record.final['status']} via {record.final_via}, "
                           f"{json.dumps(record.plan.params['distribution'])}): {problem}")
        if target.results_dir:
            verify_results_file(target.results_dir, record, book)
    book.stats["instances started"] = instances
    if target.results_dir:
        files = {f for f in os.listdir(target.results_dir) if f.endswith(".json")}
        extra = files - {f"{r}.json" for r in book.runs}
        if extra:
            book.violation(f"results_dir has files of runs we never started: {sorted(extra)[:5]}")


def verify_results_file(results_dir, record, book):
    path = os.path.join(results_dir, f"{record.run_id}.json")
    try:
        with open(path, encoding="utf-8") as f:
            saved = json.load(f)
    except (OSError, ValueError) as e:
        book.violation(f"{record.run_id}: results_dir file: {e}")
        return
    final = record.final
    for key in ("status", "counts", "globals", "first_fails", "first_aborts", "time_finish"):
        if saved.get(key) != final.get(key):
            book.violation(f"{record.run_id}: results_dir {key} {saved.get(key)} != final "
                           f"{record.final_via} {final.get(key)}")


def measure_rss(target, book, label, baseline=None, tolerance=None, settle=15.0):
    """RSS in KiB; with a baseline, polls up to `settle` s for it to come back within
    tolerance (the allocator may hand memory back a little later)."""
    deadline = time.monotonic() + settle
    while True:
        rss = target.rss_kib()
        if baseline is None or rss <= baseline * (1 + tolerance) or time.monotonic() > deadline:
            print(f"soak: RSS {label}: {rss} KiB", file=sys.stderr, flush=True)
            return rss
        time.sleep(0.5)


def start_own_daemon(args):
    results_dir = tempfile.mkdtemp(prefix="testrund_soak_results_")
    daemon = DaemonProcess({"token": [f"{OPERATOR_TOKEN}:operator",
                                      f"{OBSERVER_TOKEN}:observer"],
                            "results_dir": results_dir},
                           binary=args.binary)
    return Target("127.0.0.1", daemon.port, OPERATOR_TOKEN, OBSERVER_TOKEN, pid=daemon.pid,
                  daemon=daemon, results_dir=results_dir)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    length = p.add_mutually_exclusive_group()
    length.add_argument("--minutes", type=float, help="length of the soak proper (default 10)")
    length.add_argument("--seconds", type=float, help="length of the soak proper")
    p.add_argument("--warmup", type=float,
                   help="seconds of warm-up before the RSS baseline (default: 10 %% of the "
                        "soak, at least 5, at most 60)")
    p.add_argument("--clients", type=int, default=6, help="concurrent client threads (6)")
    p.add_argument("--max-live", type=int, default=40,
                   help="most runs in progress at once (40)")
    p.add_argument("--run-span", type=float, default=12.0,
                   help="a run starts its instances within about this many seconds (12)")
    p.add_argument("--seed", default=None, help="random seed (default: random, printed)")
    p.add_argument("--rss-tolerance", type=float, default=0.10,
                   help="allowed RSS growth over the baseline, a fraction (0.10); "
                        "negative: no RSS check (sanitizer builds)")
    p.add_argument("--drain-timeout", type=float, default=180.0,
                   help="seconds for every run to end after the clients stop (180)")
    p.add_argument("--progress", type=float, default=30.0, help="seconds between progress lines")
    p.add_argument("--binary", help="testrund to start (default $TESTRUND_BINARY or "
                                    "build/daemon/testrund)")
    p.add_argument("--address", help="soak a running daemon at HOST:PORT instead")
    p.add_argument("--token", help="operator token for --address")
    p.add_argument("--pid", type=int, help="the --address daemon's pid, for its RSS")
    p.add_argument("--report-json", help="also write the figures to this file")
    args = p.parse_args(argv)
    args.duration = (args.seconds if args.seconds is not None
                     else 60.0 * (args.minutes if args.minutes is not None else 10.0))
    if args.warmup is None:
        args.warmup = min(60.0, max(5.0, args.duration * 0.10))
    if args.seed is None:
        args.seed = secrets.token_hex(4)
    if args.duration <= 0 or args.clients < 1 or args.max_live < 1:
        p.error("--minutes/--seconds, --clients and --max-live must be positive")
    return args


def report(target, book, args, rss, elapsed):
    lat = sorted(book.latency.get("QueryTest", [0.0]))
    s = book.stats
    figures = {
        "seed": args.seed, "seconds": round(elapsed, 1), "clients": args.clients,
        "runs_executed": s["runs executed"], "instances_started": s["instances started"],
        "queries": s["calls: QueryTest"], "pauses": s["calls: PauseTest"],
        "unpauses": s["calls: UnpauseTest"], "resumes": s["instances resumed"],
        "cancels": s["calls: CancelTest"], "list_tests": s["calls: ListTests"],
        "invalid_definitions": s["ExecuteTest -> -32602"],
        "hostile_connections": sum(v for k, v in s.items() if k.startswith("hostile: ")),
        "calls": sum(v for k, v in s.items() if k.startswith("calls: ")),
        "query_latency_p99_s": round(lat[int(0.99 * (len(lat) - 1))], 4),
        "query_latency_max_s": round(lat[-1], 4),
        "rss_baseline_kib": rss[0], "rss_end_kib": rss[1],
        "violations": len(book.violations),
    }
    print("soak: figures:")
    for key, value in figures.items():
        print(f"  {key}: {value}")
    print("soak: calls and answers: " + ", ".join(f"{k} {v}" for k, v in sorted(s.items())))
    if args.report_json:
        with open(args.report_json, "w", encoding="utf-8") as f:
            json.dump(figures, f, indent=2)
    return figures


def main(argv):
    args = parse_args(argv)
    print(f"soak: seed {args.seed}, {args.duration:.0f} s after {args.warmup:.0f} s of warm-up, "
          f"{args.clients} clients", file=sys.stderr, flush=True)
    try:
        if args.address:
            host, _, port = args.address.rpartition(":")
            target = Target(host, int(port), args.token, None, pid=args.pid)
        else:
            target = start_own_daemon(args)
    except (RuntimeError, ValueError, OSError) as e:
        print(f"soak: cannot start: {e}", file=sys.stderr)
        return 2
    # Our own daemon keeps no completed run (completed_run_retention 0), so a run is gone
    # after its first completed QueryTest; another daemon may keep them for a while.
    book = RunBook(strict_discard=target.daemon is not None)
    run_ids = itertools.count(1)
    session = secrets.token_hex(3)
    began = time.monotonic()
    rss = [None, None]
    try:
        run_phase(target, book, args, args.warmup, run_ids, session, "warm-up")
        drain(target, book, args.seed, args.drain_timeout)
        wait_idle(target, book)
        rss[0] = measure_rss(target, book, "baseline")
        run_phase(target, book, args, args.duration, run_ids, session, "soak")
        drain(target, book, args.seed, args.drain_timeout)
        wait_idle(target, book)
        verify(target, book)
        if args.rss_tolerance >= 0:
            rss[1] = measure_rss(target, book, "end", rss[0], args.rss_tolerance)
            if rss[1] > rss[0] * (1 + args.rss_tolerance):
                book.violation(f"RSS {rss[1]} KiB after the soak is more than "
                               f"{args.rss_tolerance:.0%} over the baseline {rss[0]} KiB")
        else:
            rss[1] = target.rss_kib()
        with target.client(True) as client:
            start = time.monotonic()
            client.server_info()
            if time.monotonic() - start > 1.0:
                book.violation(f"GetServerInfo took {time.monotonic() - start:.2f} s at the end")
    except testrun.TestrunError as e:
        book.violation(f"the daemon stopped answering: {e}")
    finally:
        if target.daemon is not None:
            status = target.daemon.stop()
            if status != 0:
                book.violation(f"the daemon exited with status {status} on SIGTERM")
            errors = [line for line in target.daemon.log().splitlines()
                      if re.match(r"\S+ error ", line)]
            for line in errors[:20]:
                book.violation(f"daemon log: {line}")
            shutil.rmtree(target.results_dir, ignore_errors=True)
    report(target, book, args, rss, time.monotonic() - began)
    if book.violations:
        print(f"soak: FAILED: {len(book.violations)} violation(s):")
        for v in book.violations[:200]:
            print(f"  {v}")
        return 1
    print("soak: PASSED")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
