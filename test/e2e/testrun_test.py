# SPDX-License-Identifier: Apache-2.0
"""End-to-end tests of scripts/testrun against the real testrund binary.

Each test runs scripts/testrun as a subprocess, the way an operator or a CI job does, and
checks its exit status and what it prints. The daemons bind 127.0.0.1:0
(test/pylib/daemon_process.py starts them and reads the real ports).

Environment: TESTRUND_BINARY (the daemon), TESTRUN_SCRIPT (scripts/testrun) and PYTHONPATH
(test/pylib); meson sets all three.
"""

import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

from daemon_process import DaemonProcess
from polling import free_port

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.dirname(os.path.dirname(HERE))
SCRIPT = os.environ.get("TESTRUN_SCRIPT", os.path.join(SOURCE_ROOT, "scripts/testrun"))
CLI_TIMEOUT = 60

PASSING = {
    "operations": [
        {"type": "eval", "expression": "v.x = 1"},
        {"type": "wait", "arguments": {"seconds": 0.01}},
        {"type": "assert", "expression": "v.x == 1"},
    ],
    "distribution": {"type": "load", "total": 50},
}
FAILING = {
    "operations": [
        {"type": "eval", "expression": "v.x = 1"},
        {"type": "assert", "expression": "v.x == 2", "fail": "{'x is ' .. v.x}"},
    ],
    "distribution": {"type": "load", "total": 20},
}
ABORTING = {
    "operations": [
        {"type": "assert", "expression": "false", "abort": "boom"},
        {"type": "eval", "expression": "v.never = 1"},
    ],
    "distribution": {"type": "load", "total": 10},
}
# Instances 0, 5, 10, ... fail: exactly 10 of 50, a failed ratio of 0.2.
ONE_IN_FIVE_FAILS = {
    "operations": [
        {"type": "eval", "expression": "v.x = 1"},
        {"type": "wait", "arguments": {"seconds": 0.01}},
        {"type": "assert", "expression": "instance % 5 ~= 0", "fail": "every fifth"},
    ],
    "distribution": {"type": "load", "total": 50},
}
# Op 0 waits 50 ms; 20 instances a second for 5 s.
SLOW = {
    "operations": [{"type": "wait", "arguments": {"seconds": 0.05}}],
    "distribution": {"type": "linear", "rate": 20, "total": 100},
}
# Op 1 (a wait) is never reached: every instance aborts at op 0.
NEVER_WAITS = {
    "operations": [
        {"type": "assert", "expression": "false", "abort": "boom"},
        {"type": "wait", "arguments": {"seconds": 0.01}},
    ],
    "distribution": {"type": "load", "total": 5},
}
HALTING = {
    "operations": [
        {"type": "eval", "expression": "v.x = 1"},
        {"type": "halt", "arguments": {"seconds": 30, "comment": "check"}},
        {"type": "assert", "expression": "v.answer == 42", "fail": "{'answer ' .. tostring(v.answer)}"},
    ],
    "distribution": {"type": "load", "total": 3},
}
BROKEN = {
    "operations": [
        {"type": "nosuch"},
        {"type": "assert"},
        {"type": "eval", "expression": "v.x = = 1"},
        {"type": "branch", "expression": "true", "on_true": "zz"},
    ],
}
USES_VARS = {
    "operations": [
        {"type": "assert", "expression": "v.n == 6 and v.s == 'abc' and v.t.u == true",
         "fail": "vars not as set"},
        {"type": "assert", "expression": "g.limit == 3", "fail": "global not as set"},
    ],
}


class CliTestCase(unittest.TestCase):
    daemon = None  # set by subclasses

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="testrun_e2e_")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def write(self, name, definition):
        path = os.path.join(self.tmp, name)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(definition, f)
        return path

    def cli(self, *args, url=True):
        """Runs scripts/testrun with `args` (after --url of this class's daemon)."""
        cmd = [sys.executable, SCRIPT]
        if url:
            cmd += ["--url", self.daemon.url]
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        env.pop("TESTRUN_URL", None)
        env.pop("TESTRUN_TOKEN", None)
        return subprocess.run(cmd + list(args), capture_output=True, text=True, env=env,
                              timeout=CLI_TIMEOUT)

    def assertExit(self, proc, code):
        self.assertEqual(proc.returncode, code,
                         f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")

    def wait_halted(self, run_id, count):
        """Polls `testrun --json query` until `count` instances are halted; returns the result."""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            proc = self.cli("--json", "query", run_id)
            self.assertExit(proc, 0)
            result = json.loads(proc.stdout)
            if result["counts"]["halted"] == count:
                return result
            time.sleep(0.05)
        self.fail(f"run {run_id} never had {count} halted instances")


class PlainDaemonTest(CliTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.daemon = DaemonProcess()

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop_clean()
        super().tearDownClass()

    # -- execute + watch: one exit status per outcome ---------------------------------------

    def test_watch_passing_run_exits_0_with_summary(self):
        proc = self.cli("execute", self.write("pass.json", PASSING), "--run-id", "pass-1",
                        "--watch", "--interval", "0.05")
        self.assertExit(proc, 0)
        out = proc.stdout
        self.assertIn("started run pass-1", out)
        self.assertIn("run pass-1: completed", out)
        self.assertIn("started 50  finished 50  passed 50  failed 0  aborted 0", out)
        self.assertIn("buckets", out)
        self.assertRegex(out, r"\n     \+0\.00s  started      50 #{20}  finished      50 ={20}\n")
        self.assertIn("latency (seconds):", out)
        self.assertRegex(out, r"\n  1\s+50\s+0\.0")  # op 1 (the wait), 50 samples
        self.assertIn("first call (instance 0) check_log:", out)
        self.assertRegex(out, r"2\s+2\s+pass\s+Assert tested TRUE\.")
        self.assertIn("result: PASSED (exit 0)", out)

    def test_watch_failing_run_exits_1_with_first_fails(self):
        proc = self.cli("execute", self.write("fail.json", FAILING), "--watch",
                        "--interval", "0.05")
        self.assertExit(proc, 1)
        self.assertIn("failed 20", proc.stdout)
        self.assertIn("first fails:", proc.stdout)
        self.assertRegex(proc.stdout, r"\n  1\s+20\s+x is 1\n")
        self.assertRegex(proc.stdout, r"1\s+1\s+fail\s+x is 1")  # first call's check_log
        self.assertIn("result: FAILED (exit 1): 20 instance(s) failed", proc.stdout)

    def test_watch_aborting_run_exits_2_with_first_aborts(self):
        proc = self.cli("execute", self.write("abort.json", ABORTING), "--watch",
                        "--interval", "0.05")
        self.assertExit(proc, 2)
        self.assertIn("aborted 10", proc.stdout)
        self.assertIn("first aborts:", proc.stdout)
        self.assertRegex(proc.stdout, r"\n  0\s+10\s+boom\n")
        self.assertIn("result: ABORTED (exit 2)", proc.stdout)

    def test_watch_of_a_cancelled_run_exits_3(self):
        proc = self.cli("execute", self.write("halt.json", HALTING), "--run-id", "cancel-me")
        self.assertExit(proc, 0)
        self.assertEqual(proc.stdout, "cancel-me\n")
        self.wait_halted("cancel-me", 3)
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        watcher = subprocess.Popen([sys.executable, SCRIPT, "--url", self.daemon.url, "watch",
                                    "cancel-me", "--interval", "0.05"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env=env)
        try:
            # Stdout is a pipe, so watch prints one plain line per poll: the first line means
            # it has seen the run in progress.
            first = watcher.stdout.readline()
            self.assertIn("running", first)
            self.assertIn("halted 3", first)
            cancel = self.cli("cancel", "cancel-me")
            self.assertExit(cancel, 0)
            self.assertIn("cancelled: yes, it was in progress", cancel.stdout)
            self.assertIn("cancelled 3", cancel.stdout)
            out, err = watcher.communicate(timeout=CLI_TIMEOUT)
        finally:
            if watcher.poll() is None:
                watcher.kill()
                watcher.wait()
        self.assertEqual(watcher.returncode, 3, out + err)
        self.assertIn("cancelled or discarded by another client", out)
        self.assertIn("result: CANCELLED (exit 3)", out)
        # CancelTest discarded it.
        self.assertExit(self.cli("query", "cancel-me"), 5)

    def test_unreachable_daemon_exits_4(self):
        port = free_port()
        for args in (["--url", f"http://127.0.0.1:{port}", "info"],
                     ["--url", f"http://127.0.0.1:{port}", "watch", "x"],
                     ["--url", f"http://127.0.0.1:{port}", "execute",
                      self.write("p.json", PASSING), "--watch"],
                     ["--framed", f"127.0.0.1:{port}", "query", "x"]):
            with self.subTest(args=args):
                proc = self.cli(*args, url=False)
                self.assertExit(proc, 4)
                self.assertIn("testrun: cannot reach the daemon", proc.stderr)
                self.assertIn("refused", proc.stderr.lower())
                self.assertEqual(proc.stdout, "")

    # -- thresholds -------------------------------------------------------------------------

    def test_max_failed_ratio_is_a_daemon_threshold(self):
        path = self.write("fifth.json", ONE_IN_FIVE_FAILS)
        saved = os.path.join(self.tmp, "within.json")
        within = self.cli("execute", path, "--watch", "--quiet", "--interval", "0.05",
                          "--max-failed-ratio", "0.25", "--save", saved)
        # The tolerated case: 10 of 50 failed, under the ratio, exit 0 as always.
        self.assertExit(within, 0)
        self.assertIn(": completed in ", within.stdout)
        self.assertIn("failed 10", within.stdout)
        self.assertRegex(within.stdout, r"\nthresholds:\n  ok  failed_ratio <= 0\.25  value 0\.2\n")
        self.assertIn("result: PASSED (exit 0): 10 of 50 instance(s) failed or aborted, "
                      "tolerated by failed_ratio <= 0.25 (value 0.2)", within.stdout)
        with open(saved, encoding="utf-8") as f:
            final = json.load(f)
        self.assertEqual(final["status"], "completed")
        self.assertEqual(final["thresholds"],
                         [{"metric": "failed_ratio", "max": 0.25, "interval": 1, "value": 0.2,
                           "ok": True, "text": "failed_ratio <= 0.25"}])
        over = self.cli("execute", path, "--watch", "--quiet", "--interval", "0.05",
                        "--max-failed-ratio", "0.1")
        self.assertExit(over, 1)
        self.assertRegex(over.stdout, r"run tr_\d+: failed in ")
        self.assertIn("  reason: Threshold failed at the end: failed_ratio <= 0.1 (value 0.2).\n",
                      over.stdout)
        self.assertRegex(over.stdout,
                         r"\nthresholds:\n  FAILED  failed_ratio <= 0\.1  value 0\.2\n")
        self.assertIn("result: FAILED (exit 1): threshold failed: failed_ratio <= 0.1 "
                      "(value 0.2)\n", over.stdout)
        plain = self.cli("execute", path, "--watch", "--quiet", "--interval", "0.05")
        self.assertExit(plain, 1)
        self.assertNotIn("thresholds:", plain.stdout)
        self.assertIn("result: FAILED (exit 1): 10 instance(s) failed", plain.stdout)
        # A failed_ratio from --threshold (or the definition) tolerates just the same.
        same = self.cli("execute", path, "--watch", "--quiet", "--interval", "0.05",
                        "--threshold", "failed_ratio<=0.2")
        self.assertExit(same, 0)
        own = self.cli("execute", self.write("fifth-own.json", dict(
            ONE_IN_FIVE_FAILS, thresholds=[{"metric": "failed_ratio", "max": 0.3}])),
            "--watch", "--quiet", "--interval", "0.05")
        self.assertExit(own, 0)
        self.assertIn("tolerated by failed_ratio <= 0.3 (value 0.2)", own.stdout)

    def test_a_run_stopped_by_max_failures_never_passes(self):
        # A tolerant ratio must not turn a run the daemon ended as "failed" into a pass.
        definition = dict(ONE_IN_FIVE_FAILS, max_failures=1,
                          distribution={"type": "load", "total": 50, "backlog": 1})
        path = self.write("stopped.json", definition)
        proc = self.cli("execute", path, "--watch", "--quiet", "--interval", "0.05",
                        "--max-failed-ratio", "0.9")
        self.assertExit(proc, 1)
        self.assertIn("max_failures (1)", proc.stdout)
        self.assertRegex(proc.stdout, r"  ok  failed_ratio <= 0\.9  value 0\.\d+\n")
        self.assertNotIn(".;", proc.stdout)
        # With a threshold failing as well, each reason once, max_failures' first.
        proc = self.cli("execute", path, "--watch", "--quiet", "--interval", "0.05",
                        "--threshold", "latency_p99[1]<0.000001")
        self.assertExit(proc, 1)
        self.assertIn("no further instances were started. Threshold failed at the end: "
                      "latency_p99[1] <= 1e-06 (value 0.01", proc.stdout)
        self.assertRegex(proc.stdout, r"result: FAILED \(exit 1\): 2 instance\(s\) failed; "
                                      r"Failed or aborted instances "
                                      r"\(\d+\) exceeded max_failures \(1\); no further instances "
                                      r"were started; threshold failed: latency_p99\[1\] <= 1e-06 "
                                      r"\(value 0\.01\d*\)\n")
        self.assertNotIn(".;", proc.stdout)

    def test_max_p99_is_a_daemon_threshold(self):
        path = self.write("pass.json", PASSING)
        ok = self.cli("execute", path, "--watch", "--quiet", "--interval", "0.05",
                      "--max-p99", "1=5")
        self.assertExit(ok, 0)
        self.assertRegex(ok.stdout, r"\nthresholds:\n  ok  latency_p99\[1\] <= 5  value 0\.0\d+\n")
        self.assertIn("result: PASSED (exit 0)\n", ok.stdout)
        slow = self.cli("execute", path, "--watch", "--quiet", "--interval", "0.05",
                        "--max-p99", "1=0.001")
        self.assertExit(slow, 1)
        self.assertRegex(slow.stdout, r"reason: Threshold failed at the end: "
                                      r"latency_p99\[1\] <= 0\.001 \(value 0\.0\d+\)\.")
        self.assertRegex(slow.stdout, r"result: FAILED \(exit 1\): threshold failed: "
                                      r"latency_p99\[1\] <= 0\.001 \(value 0\.0\d+\)\n")
        # op 0 is an eval: it records no latency, and the daemon refuses the threshold before
        # anything starts, naming the option it came from.
        unknown = self.cli("execute", path, "--watch", "--quiet", "--interval", "0.05",
                           "--max-p99", "0=1", "--run-id", "p99-op0")
        self.assertExit(unknown, 5)
        self.assertEqual(unknown.stdout, "")
        self.assertIn("error -32602 (invalid params): 1 problem(s):\n"
                      "  thresholds[0].op_idx (from --max-p99 0=1) names op 0, which records no "
                      "latency", unknown.stderr)
        self.assertExit(self.cli("query", "p99-op0"), 5)
        # An op that records latency but never ran: no samples, the threshold fails.
        never = self.cli("execute", self.write("never.json", NEVER_WAITS), "--watch", "--quiet",
                         "--interval", "0.05", "--max-p99", "1=1")
        self.assertExit(never, 2)  # every instance aborted
        self.assertIn("  FAILED  latency_p99[1] <= 1  no samples\n", never.stdout)
        self.assertIn("threshold failed: latency_p99[1] <= 1 (no samples)", never.stdout)

    def test_threshold_option_is_sent_to_the_daemon(self):
        # HALTING's instances wait at their halt (op 1, which records latency), so the run is
        # still going when QueryTest shows the thresholds it was given.
        definition = dict(HALTING, thresholds=[{"metric": "aborted_ratio", "max": 0}])
        proc = self.cli("execute", self.write("halt-th.json", definition), "--run-id", "th-1",
                        "--threshold", "latency_p99[1]<0.25",
                        "--threshold", "failed_ratio<=0.01:abort:after=10",
                        "--threshold", "started_rate>2:every=0.5",
                        "--threshold", " latency_max [1] >= 0.001 ",
                        "--threshold", "late_ratio<0.5:every=2:abort")
        self.assertExit(proc, 0)
        self.assertEqual(proc.stdout, "th-1\n")
        try:
            result = self.wait_halted("th-1", 3)
            given = [{k: v for k, v in t.items() if k not in ("value", "ok")}
                     for t in result["thresholds"]]
            self.assertEqual(given, [
                {"metric": "aborted_ratio", "max": 0, "interval": 1,
                 "text": "aborted_ratio <= 0"},
                {"metric": "latency_p99", "op_idx": 1, "max": 0.25, "interval": 1,
                 "text": "latency_p99[1] <= 0.25"},
                {"metric": "failed_ratio", "max": 0.01, "abort": True, "after": 10,
                 "interval": 1, "text": "failed_ratio <= 0.01"},
                {"metric": "started_rate", "min": 2, "interval": 0.5,
                 "text": "started_rate >= 2"},
                {"metric": "latency_max", "op_idx": 1, "min": 0.001, "interval": 1,
                 "text": "latency_max[1] >= 0.001"},
                {"metric": "late_ratio", "max": 0.5, "abort": True, "after": 0, "interval": 2,
                 "text": "late_ratio <= 0.5"},
            ])
            summary = self.cli("query", "th-1")
            self.assertExit(summary, 0)
            self.assertRegex(summary.stdout, r"\nthresholds:\n  ok  aborted_ratio <= 0 ")
            self.assertRegex(summary.stdout,
                             r"\n  ok  failed_ratio <= 0\.01 +(value 0|not checked yet) +"
                             r"abort after 10s\n")
            self.assertRegex(summary.stdout, r"\n  ok  latency_p99\[1\] <= 0\.25 +no samples\n")
            self.assertRegex(summary.stdout,
                             r"\n  \w+ +late_ratio <= 0\.5 +\S.* +abort, every 2s\n")
        finally:
            self.cli("cancel", "th-1")

    def test_malformed_threshold_is_a_usage_error_before_anything_starts(self):
        path = self.write("pass.json", PASSING)
        form = ("expected METRIC[OP]<BOUND or METRIC>BOUND, then optionally :abort, "
                ":after=SECONDS and :every=SECONDS")
        for i, (expr, problem) in enumerate((
                ("latency_p99[1]", ""),
                ("latency_p99[1]=0.25", ""),
                ("latency_p99[x]<0.25", ""),
                ("<0.25", ""),
                ("latency_p99[1]<<0.25", "bound '<0.25' is not a number; "),
                ("latency_p99[1]<0.25s", "bound '0.25s' is not a number; "),
                ("failed_ratio<nan", "bound 'nan' is not a number; "),
                ("failed_ratio<0.01:sometimes", "unknown suffix ':sometimes'; "),
                ("failed_ratio<0.01:abort=yes", "':abort' takes no value; "),
                ("failed_ratio<0.01:abort:abort", "':abort' is given twice; "),
                ("failed_ratio<0.01:every", "':every' needs =SECONDS; "),
                ("failed_ratio<0.01:every=often", "every 'often' is not a number; "),
                ("failed_ratio<0.01:after=10", ":after= is the warm-up of an :abort threshold "
                                               "and needs :abort; "))):
            for watch in ([], ["--watch"]):
                with self.subTest(expr=expr, watch=watch):
                    run_id = f"bad-threshold-{i}"
                    proc = self.cli("execute", path, "--run-id", run_id, "--threshold",
                                    "started_rate>1", "--threshold", expr, *watch)
                    self.assertExit(proc, 64)
                    self.assertEqual(proc.stdout, "")
                    self.assertEqual(proc.stderr,
                                     f"testrun: --threshold {expr!r}: {problem}{form} (e.g. "
                                     "'latency_p99[3]<0.25', 'failed_ratio<0.01:abort:after=10')\n")
                    self.assertExit(self.cli("query", run_id), 5)  # never started
        # Thresholds are added to the definition's array; anything else there is an error.
        odd = self.write("odd.json", dict(PASSING, thresholds={"metric": "failed_ratio"}))
        proc = self.cli("execute", odd, "--threshold", "failed_ratio<0.1", "--run-id", "odd-1")
        self.assertExit(proc, 64)
        self.assertIn("thresholds is not an array", proc.stderr)
        self.assertExit(self.cli("query", "odd-1"), 5)
        # What only the daemon knows (metric names, ranges, ops) is its -32602, each problem
        # with the option it came from.
        proc = self.cli("execute", path, "--threshold", "p99[1]<0.25", "--threshold",
                        "failed_ratio<2", "--threshold", "latency_p99<1", "--watch")
        self.assertExit(proc, 5)
        lines = proc.stderr.splitlines()
        self.assertEqual(lines[0], "testrun: ExecuteTest failed: error -32602 (invalid params): "
                                   "3 problem(s):")
        self.assertTrue(lines[1].startswith("  thresholds[0].metric (from --threshold "
                                            "'p99[1]<0.25') must be one of "), lines[1])
        self.assertEqual(lines[2], "  thresholds[1].max (from --threshold 'failed_ratio<2') "
                                   "must be between 0 and 1, got 2")
        self.assertEqual(lines[3], "  thresholds[2].op_idx (from --threshold 'latency_p99<1') "
                                   'is required for "latency_p99" (the op whose latency it '
                                   "bounds)")

    def test_abort_threshold_ends_the_run(self):
        proc = self.cli("execute", self.write("slow.json", SLOW), "--watch", "--interval", "0.1",
                        "--threshold", "latency_max[0]<0.01:abort:after=0.5:every=0.1")
        self.assertExit(proc, 1)
        out = proc.stdout
        self.assertRegex(out, r"run tr_\d+: failed in [01]\.\d+s\n")
        self.assertRegex(out, r"  reason: Threshold failed after \d\.\d s; the run was ended: "
                              r"latency_max\[0\] <= 0\.01 \(value 0\.05\d*\)\.\n")
        self.assertRegex(out, r"\n  FAILED  latency_max\[0\] <= 0\.01  value 0\.05\d*  "
                              r"abort after 0\.5s, every 0\.1s\n")
        self.assertRegex(out, r"result: FAILED \(exit 1\): a threshold ended the run after "
                              r"\d\.\d s; threshold failed: latency_max\[0\] <= 0\.01 "
                              r"\(value 0\.05\d*\)\n")
        started = int(re.search(r"counts: started (\d+)", out).group(1))
        self.assertLess(started, 50)  # of 100 planned over 5 s
        # The progress lines named the failing threshold before it ended the run.
        self.assertIn("failing: latency_max[0] <= 0.01", out)

    def test_watch_judges_its_thresholds_on_the_client(self):
        path = self.write("fifth.json", ONE_IN_FIVE_FAILS)
        self.assertExit(self.cli("execute", path, "--run-id", "client-1"), 0)
        proc = self.cli("watch", "client-1", "--quiet", "--interval", "0.05",
                        "--max-failed-ratio", "0.25", "--max-p99", "1=5")
        self.assertExit(proc, 0)
        self.assertNotIn("thresholds:", proc.stdout)  # nothing was sent to the daemon
        self.assertRegex(proc.stdout, r"result: PASSED \(exit 0\): failed ratio 0\.2000 <= 0\.25: "
                                      r"tolerated; op 1: p99 0\.0\d+s <= 5s\n")
        self.assertExit(self.cli("execute", path, "--run-id", "client-2"), 0)
        proc = self.cli("watch", "client-2", "--quiet", "--interval", "0.05",
                        "--max-failed-ratio", "0.1", "--max-p99", "1=0.001", "--max-p99", "0=1")
        self.assertExit(proc, 1)
        self.assertRegex(proc.stdout, r"result: FAILED \(exit 1\): failed ratio 0\.2000 > 0\.1 "
                                      r"\(10 failed, 0 aborted of 50\); op 0: no latency samples "
                                      r"to check p99 <= 1s; op 1: p99 0\.0\d+s > 0\.001s\n")
        # A run started with thresholds: watch shows the daemon's verdict.
        self.assertExit(self.cli("execute", path, "--run-id", "client-3", "--threshold",
                                 "failed_ratio<0.05"), 0)
        proc = self.cli("watch", "client-3", "--quiet", "--interval", "0.05")
        self.assertExit(proc, 1)
        self.assertIn("result: FAILED (exit 1): threshold failed: failed_ratio <= 0.05 "
                      "(value 0.2)\n", proc.stdout)

    def test_list_shows_thresholds_and_reasons(self):
        definition = dict(FAILING, thresholds=[{"metric": "failed_ratio", "max": 0.5}])
        self.assertExit(self.cli("execute", self.write("gate.json", definition), "--run-id",
                                 "gate-1", "--tag", "gate"), 0)
        self.assertExit(self.cli("execute", self.write("pass.json", PASSING), "--run-id",
                                 "gate-2", "--tag", "gate"), 0)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            runs = json.loads(self.cli("--json", "list", "--tag", "gate").stdout)["runs"]
            if [r["status"] for r in runs] == ["failed", "completed"]:
                break
            time.sleep(0.05)
        listed = self.cli("list", "--tag", "gate")
        self.assertExit(listed, 0)
        rows = listed.stdout.splitlines()
        self.assertRegex(rows[0], r"^run_id\s+status\s+started at\s+started\s+finished\s+failed\s+"
                                  r"aborted\s+halted\s+thresholds\s+tags$")
        self.assertRegex(rows[1], r"^gate-1\s+failed\s+\S+ \S+\s+20\s+20\s+20\s+0\s+0\s+"
                                  r"FAILED\s+gate$")
        self.assertRegex(rows[2], r"^gate-2\s+completed\s+\S+ \S+\s+50\s+50\s+0\s+0\s+0\s+"
                                  r"-\s+gate$")
        self.assertEqual(rows[3:], ["reasons:", "  gate-1: Threshold failed at the end: "
                                    "failed_ratio <= 0.5 (value 1)."])
        self.assertExit(self.cli("query", "gate-1"), 0)
        self.assertExit(self.cli("query", "gate-2"), 0)

    def test_a_non_testrund_http_server_is_one_line_exit_6(self):
        html = b"<html>\n<head><title>Not found</title></head>\n<body>\n<h1>404</h1>\n</body>\n</html>\n"

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.send_response(404)
                self.send_header("Content-Length", str(len(html)))
                self.end_headers()
                self.wfile.write(html)

            def log_message(self, *args):
                pass

        server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            proc = self.cli("--url", f"http://127.0.0.1:{server.server_port}", "info", url=False)
        finally:
            server.shutdown()
            server.server_close()
        self.assertExit(proc, 6)
        self.assertEqual(len(proc.stderr.strip().splitlines()), 1, proc.stderr)
        self.assertIn("HTTP 404", proc.stderr)
        self.assertIn("<h1>404</h1>", proc.stderr)

    # -- framing, machine output, errors ----------------------------------------------------

    def test_framed_transport(self):
        framed = ["--framed", f"127.0.0.1:{self.daemon.port}"]
        info = self.cli(*framed, "info", url=False)
        self.assertExit(info, 0)
        self.assertIn("lua_version: Lua 5.4", info.stdout)
        run = self.cli(*framed, "execute", self.write("fail.json", FAILING), "--watch",
                       "--interval", "0.05", url=False)
        self.assertExit(run, 1)
        self.assertIn("failed 20", run.stdout)
        bad = self.cli(*framed, "query", "no-such-run", url=False)
        self.assertExit(bad, 5)
        self.assertIn("error -32001", bad.stderr)

    def test_json_output(self):
        proc = self.cli("--json", "execute", self.write("pass.json", PASSING), "--run-id",
                        "json-1")
        self.assertExit(proc, 0)
        self.assertEqual(json.loads(proc.stdout), {"run_id": "json-1"})
        # --json also works after the command, and watch prints the final QueryTest result.
        proc = self.cli("watch", "json-1", "--json", "--interval", "0.05")
        self.assertExit(proc, 0)
        result = json.loads(proc.stdout)
        self.assertEqual(result["run_id"], "json-1")
        self.assertEqual(result["completed"], 1)
        self.assertEqual(result["counts"]["passed"], 50)
        self.assertIn("result: PASSED", proc.stderr)
        # An error prints the JSON-RPC error object on stdout.
        proc = self.cli("--json", "query", "json-1")
        self.assertExit(proc, 5)
        error = json.loads(proc.stdout)
        self.assertEqual(error["code"], -32001)
        self.assertIn("json-1", error["message"])
        info = self.cli("--json", "info")
        self.assertExit(info, 0)
        self.assertEqual(set(json.loads(info.stdout)),
                         {"version", "time_start", "runs", "instances_live", "memory_bytes",
                          "lua_version", "role"})

    def test_definition_with_errors_prints_every_problem(self):
        proc = self.cli("execute", self.write("broken.json", BROKEN))
        self.assertExit(proc, 5)
        self.assertEqual(proc.stdout, "")
        lines = proc.stderr.splitlines()
        self.assertEqual(lines[0],
                         "testrun: ExecuteTest failed: error -32602 (invalid params): "
                         "4 problem(s):")
        self.assertEqual(lines[1], '  op 0: type is unknown: "nosuch"')
        self.assertEqual(lines[2], '  op 1: expression is required')
        self.assertRegex(lines[3], r"^  op 2: expression .*unexpected symbol near '='")
        self.assertEqual(lines[4], '  op 3: on_true names no label: "zz"')
        self.assertEqual(len(lines), 5)
        # With --json the error object carries the same list.
        proc = self.cli("--json", "execute", self.write("broken.json", BROKEN))
        self.assertExit(proc, 5)
        error = json.loads(proc.stdout)
        self.assertEqual(error["code"], -32602)
        self.assertEqual([p["op_idx"] for p in error["data"]], [0, 1, 2, 3])

    def test_bad_command_lines_exit_64(self):
        path = self.write("pass.json", PASSING)
        missing = os.path.join(self.tmp, "missing.json")
        notjson = os.path.join(self.tmp, "notjson.json")
        with open(notjson, "w", encoding="utf-8") as f:
            f.write("{nope")
        for args, text in ((["execute", path, "--set", "x=1"], "--set wants"),
                           (["execute", missing], "cannot read"),
                           (["execute", notjson], "is not valid JSON"),
                           (["execute", path, "--watch", "--max-p99", "one"], "--max-p99 wants"),
                           (["execute", path, "--save", "x.json"], "watch options need --watch"),
                           (["resume", "r", "notanumber"], "invalid int value"),
                           (["nosuchcommand"], "invalid choice")):
            with self.subTest(args=args):
                proc = self.cli(*args)
                self.assertExit(proc, 64)
                self.assertIn(text, proc.stderr)

    # -- overrides --------------------------------------------------------------------------

    def test_execute_overrides_and_set(self):
        proc = self.cli("execute", self.write("pass.json", PASSING), "--total", "7",
                        "--backlog", "2", "--watch", "--json", "--interval", "0.05")
        self.assertExit(proc, 0)
        self.assertEqual(json.loads(proc.stdout)["counts"]["started"], 7)
        proc = self.cli("execute", self.write("pass.json", PASSING), "--rate", "200",
                        "--total", "5", "--watch", "--json", "--interval", "0.05")
        self.assertExit(proc, 0)
        self.assertEqual(json.loads(proc.stdout)["counts"]["started"], 5)
        proc = self.cli("execute", self.write("vars.json", USES_VARS), "--set", "v.n=6",
                        "--set", "v.s=abc", "--set", "v.t.u=true", "--set", "g.limit=3",
                        "--watch", "--interval", "0.05")
        self.assertExit(proc, 0)
        self.assertIn("passed 1", proc.stdout)
        proc = self.cli("execute", self.write("vars.json", USES_VARS), "--set", 'v.n="6"',
                        "--set", "v.s=abc", "--set", "v.t.u=true", "--set", "g.limit=3",
                        "--watch", "--interval", "0.05")
        self.assertExit(proc, 1)
        self.assertIn("vars not as set", proc.stdout)

    # -- halted / resume --------------------------------------------------------------------

    def test_halted_and_resume(self):
        proc = self.cli("execute", self.write("halt.json", HALTING), "--run-id", "halt-1")
        self.assertExit(proc, 0)
        self.wait_halted("halt-1", 3)
        table = self.cli("halted", "halt-1")
        self.assertExit(table, 0)
        lines = table.stdout.splitlines()
        self.assertRegex(lines[0],
                         r"^instance\s+op\s+label\s+timeout_s\s+comment\s+halted at\s+left_s$")
        rows = [re.split(r"\s+", line) for line in lines[1:]]
        self.assertEqual([row[:4] for row in rows], [[str(i), "1", "30", "check"] for i in range(3)])
        for row in rows:  # halted at (date, time), then the seconds left of the 30
            self.assertRegex(row[4] + " " + row[5], r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$")
            self.assertTrue(0 < float(row[6]) <= 30, row)
        resumed = self.cli("resume", "halt-1", "0", "--set", "v.answer=42")
        self.assertExit(resumed, 0)
        self.assertEqual(resumed.stdout, "resumed instance 0 of run halt-1\n")
        again = self.cli("resume", "halt-1", "0")
        self.assertExit(again, 5)
        self.assertIn("error -32004 (instance not halted)", again.stderr)
        nosuch = self.cli("resume", "halt-1", "99")
        self.assertExit(nosuch, 5)
        self.assertIn("error -32003 (no such instance)", nosuch.stderr)
        self.assertExit(self.cli("resume", "halt-1", "1", "--set", "v.answer=abc"), 0)
        self.assertExit(self.cli("--json", "resume", "halt-1", "2"), 0)
        watch = self.cli("watch", "halt-1", "--interval", "0.05")
        self.assertExit(watch, 1)
        self.assertIn("passed 1  failed 2", watch.stdout)
        self.assertRegex(watch.stdout, r"\n  2\s+1\s+answer abc\n")
        self.assertRegex(watch.stdout, r"\n  2\s+1\s+answer nil\n")
        self.assertRegex(watch.stdout, r"\n  2\s+2\s+pass\s+Assert tested TRUE\.\n")

    # -- list / info / pause ----------------------------------------------------------------

    def test_list_and_info(self):
        path = self.write("halt.json", HALTING)
        self.assertExit(self.cli("execute", path, "--run-id", "list-a", "--tag", "nightly"), 0)
        self.assertExit(self.cli("execute", path, "--run-id", "list-b", "--tag", "other"), 0)
        try:
            self.wait_halted("list-a", 3)
            listed = self.cli("list", "--tag", "nightly")
            self.assertExit(listed, 0)
            rows = listed.stdout.splitlines()
            self.assertRegex(rows[0], r"^run_id\s+status\s+started at\s+started\s+finished")
            self.assertEqual(len(rows), 2)
            self.assertRegex(rows[1], r"^list-a\s+running\s+\S+ \S+\s+3\s+0\s+0\s+0\s+3\s+nightly$")
            every = self.cli("--json", "list", "--status", "running")
            self.assertExit(every, 0)
            ids = {r["run_id"] for r in json.loads(every.stdout)["runs"]}
            self.assertTrue({"list-a", "list-b"} <= ids)
            self.assertEqual(self.cli("list", "--status", "paused").stdout, "no runs\n")
            self.assertEqual(self.cli("list", "--status", "interrupted").stdout, "no runs\n")
            paused = self.cli("pause", "list-b")
            self.assertExit(paused, 0)
            self.assertEqual(paused.stdout, "run list-b: paused\n")
            again = self.cli("pause", "list-b")
            self.assertExit(again, 5)
            self.assertIn("error -32006", again.stderr)
            self.assertExit(self.cli("unpause", "list-b"), 0)
            info = self.cli("info")
            self.assertExit(info, 0)
            self.assertRegex(info.stdout, r"(?m)^version: \d+\.\d+\.\d+$")
            self.assertRegex(info.stdout, r"(?m)^runs: \d+$")
            self.assertRegex(info.stdout, r"(?m)^time_start: \d{4}-\d\d-\d\d ")
        finally:
            self.cli("cancel", "list-a")
            self.cli("cancel", "list-b")

    def test_query_in_progress(self):
        self.assertExit(self.cli("execute", self.write("halt.json", HALTING), "--run-id",
                                 "query-1"), 0)
        try:
            self.wait_halted("query-1", 3)
            proc = self.cli("query", "query-1")
            self.assertExit(proc, 0)
            self.assertIn("run query-1: running", proc.stdout)
            self.assertIn("halted: 3 instance(s)", proc.stdout)
            self.assertRegex(proc.stdout, r"\n  0\s+1\s+30\s+check\s+\S+ \S+\s+[\d.]+\n")
        finally:
            self.cli("cancel", "query-1")

    # -- --start-at: scheduled until then, listed as such, cancellable ----------------------

    def test_a_run_waits_for_its_start(self):
        definition = self.write("later.json", PASSING)
        proc = self.cli("execute", definition, "--run-id", "later", "--start-at", "+3")
        self.assertExit(proc, 0)
        query = json.loads(self.cli("--json", "query", "later").stdout)
        self.assertEqual(query["status"], "scheduled")
        self.assertEqual(query["counts"]["started"], 0)
        listed = json.loads(self.cli("--json", "list", "--status", "scheduled").stdout)
        self.assertEqual([r["run_id"] for r in listed["runs"]], ["later"])
        proc = self.cli("watch", "later", "--interval", "0.05")
        self.assertExit(proc, 0)
        self.assertIn("passed", proc.stdout)

    def test_a_scheduled_run_is_cancelled_and_bad_times_refused(self):
        definition = self.write("much-later.json", PASSING)
        self.assertExit(self.cli("execute", definition, "--run-id", "much-later",
                                 "--start-at", "+3600"), 0)
        proc = self.cli("--json", "cancel", "much-later")
        self.assertExit(proc, 0)
        cancelled = json.loads(proc.stdout)
        self.assertEqual(cancelled["status"], "cancelled")
        # It never started: it starts and ends at the cancel, not an hour before its start.
        self.assertGreaterEqual(cancelled["duration"], 0)
        self.assertLess(cancelled["duration"], 1)
        proc = self.cli("execute", definition, "--start-at", "tomorrow")
        self.assertExit(proc, 64)
        self.assertIn("--start-at wants Unix seconds or +SECONDS, got 'tomorrow'", proc.stderr)
        proc = self.cli("execute", definition, "--start-at", "1000000000")
        self.assertExit(proc, 5)
        self.assertIn("start_at is", proc.stderr)

    # -- --save -----------------------------------------------------------------------------

    def test_save_keeps_the_final_result(self):
        saved = os.path.join(self.tmp, "final.json")
        proc = self.cli("execute", self.write("fail.json", FAILING), "--run-id", "save-1",
                        "--watch", "--interval", "0.05", "--save", saved)
        self.assertExit(proc, 1)
        with open(saved, encoding="utf-8") as f:
            result = json.load(f)
        self.assertEqual(result["run_id"], "save-1")
        self.assertEqual(result["completed"], 1)
        self.assertEqual(result["counts"]["failed"], 20)
        self.assertEqual(result["first_fails"], [{"op_idx": 1, "text": "x is 1", "count": 20}])
        # The daemon discarded the run when watch saw it completed: the file is all there is.
        gone = self.cli("query", "save-1")
        self.assertExit(gone, 5)
        self.assertIn("error -32001", gone.stderr)

    def test_save_to_an_unwritable_path_is_a_usage_error_before_the_run_starts(self):
        saved = os.path.join(self.tmp, "no-such-dir", "final.json")
        proc = self.cli("execute", self.write("fail.json", FAILING), "--run-id", "save-2",
                        "--watch", "--save", saved)
        self.assertExit(proc, 64)
        self.assertIn(f"--save {saved}: No such file or directory", proc.stderr)
        self.assertNotIn("Traceback", proc.stderr)
        never = self.cli("query", "save-2")
        self.assertExit(never, 5)
        self.assertIn("error -32001", never.stderr)


class DataRowsTest(CliTestCase):
    """--data (a local CSV sent inline), --data-file (a file in the daemon's data_dir) and
    --data-mode."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.data_dir = tempfile.mkdtemp(prefix="testrun_data_")
        with open(os.path.join(cls.data_dir, "users.csv"), "w", encoding="utf-8") as f:
            f.write("user,name\nalice,Alice\nbob,\"Bob, B.\"\n")
        cls.daemon = DaemonProcess({"data_dir": cls.data_dir})

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop_clean()
        shutil.rmtree(cls.data_dir, ignore_errors=True)
        super().tearDownClass()

    READ_ROW = {"distribution": {"type": "load", "total": 2},
                "operations": [{"type": "eval",
                                "expression": "g[d.user] = d.name .. ' ' .. d_row"}]}

    def final(self, *args):
        proc = self.cli("--json", "execute", self.write("rows.json", self.READ_ROW), *args,
                        "--watch", "--interval", "0.05")
        self.assertExit(proc, 0)
        return json.loads(proc.stdout)

    def test_a_local_csv_is_sent_inline(self):
        csv = os.path.join(self.tmp, "local.csv")
        with open(csv, "w", encoding="utf-8") as f:
            f.write("user,name\ncarol,Carol\ndave,Dave\n")
        result = self.final("--data", csv, "--data-mode", "unique")
        self.assertEqual(result["globals"], {"carol": "Carol 1", "dave": "Dave 2"})
        self.assertEqual(result["data"], {"rows": 2, "columns": ["user", "name"],
                                          "mode": "unique", "source": "csv"})

    def test_a_file_in_the_daemons_data_dir(self):
        result = self.final("--data-file", "users.csv")
        self.assertEqual(result["globals"], {"alice": "Alice 1", "bob": "Bob, B. 2"})
        self.assertEqual(result["data"]["source"], "file:users.csv")

    def test_bad_data_options_are_usage_errors_and_start_nothing(self):
        definition = self.write("rows.json", self.READ_ROW)
        missing = os.path.join(self.tmp, "missing.csv")
        proc = self.cli("execute", definition, "--data", missing)
        self.assertExit(proc, 64)
        self.assertIn(f"--data {missing}: No such file or directory", proc.stderr)
        proc = self.cli("execute", definition, "--data", missing, "--data-file", "users.csv")
        self.assertExit(proc, 64)
        self.assertIn("not allowed with argument", proc.stderr)
        proc = self.cli("execute", definition, "--data-mode", "shuffled")
        self.assertExit(proc, 64)
        proc = self.cli("execute", definition, "--data-file", "../etc/passwd")
        self.assertExit(proc, 5)
        self.assertIn("data.file", proc.stderr)
        self.assertEqual(json.loads(self.cli("--json", "list").stdout)["runs"], [])


class RestartTest(CliTestCase):
    """testrun restart: RestartTest through the CLI, the results_dir file of the replaced
    run, and a restart refused when the definition no longer validates."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.results_dir = tempfile.mkdtemp(prefix="testrun_results_")
        cls.data_dir = tempfile.mkdtemp(prefix="testrun_data_")
        with open(os.path.join(cls.data_dir, "two.csv"), "w", encoding="utf-8") as f:
            f.write("user\nalice\nbob\n")
        cls.daemon = DaemonProcess({"results_dir": cls.results_dir, "data_dir": cls.data_dir})

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop_clean()
        shutil.rmtree(cls.results_dir, ignore_errors=True)
        shutil.rmtree(cls.data_dir, ignore_errors=True)
        super().tearDownClass()

    COUNT_AND_HALT = {"run_id": "again", "globals": {"n": 0},
                      "distribution": {"type": "load", "total": 2},
                      "operations": [{"type": "eval", "expression": "g.n = g.n + 1"},
                                     {"type": "halt", "arguments": {"seconds": 30}}]}

    def test_restart_replaces_the_run_and_writes_its_results(self):
        self.assertExit(self.cli("execute", self.write("again.json", self.COUNT_AND_HALT)), 0)
        self.wait_halted("again", 2)
        proc = self.cli("restart", "again")
        self.assertExit(proc, 0)
        self.assertIn("run again restarted (restart 1); before the restart:", proc.stdout)
        self.assertIn("reason: Restarted by RestartTest.", proc.stdout)
        with open(os.path.join(self.results_dir, "again.restart-1.json"), encoding="utf-8") as f:
            before = json.load(f)
        self.assertEqual((before["status"], before["counts"]["cancelled"], before["globals"]),
                         ("cancelled", 2, {"n": 2}))
        after = self.wait_halted("again", 2)  # the definition again, from the start
        self.assertEqual((after["restarts"], after["counts"]["started"], after["globals"]),
                         (1, 2, {"n": 2}))
        proc = self.cli("--json", "restart", "again")
        self.assertExit(proc, 0)
        result = json.loads(proc.stdout)
        self.assertEqual((result["run_id"], result["restarts"], result["previous"]["restarts"]),
                         ("again", 2, 1))
        self.assertTrue(os.path.exists(os.path.join(self.results_dir, "again.restart-2.json")))
        self.assertExit(self.cli("cancel", "again"), 0)

    def test_restart_of_an_unknown_run_is_an_rpc_error(self):
        proc = self.cli("restart", "no-such-run")
        self.assertExit(proc, 5)
        self.assertIn("-32001", proc.stderr)

    def test_a_definition_that_no_longer_validates_leaves_the_run_alone(self):
        path = os.path.join(self.data_dir, "gone.csv")
        with open(path, "w", encoding="utf-8") as f:
            f.write("user\ncarol\n")
        definition = dict(self.COUNT_AND_HALT, run_id="data-run", data={"file": "gone.csv"},
                          distribution={"type": "load", "total": 1})
        self.assertExit(self.cli("execute", self.write("data.json", definition)), 0)
        self.wait_halted("data-run", 1)
        os.remove(path)
        proc = self.cli("restart", "data-run")
        self.assertExit(proc, 5)
        self.assertIn("-32602", proc.stderr)
        self.assertIn("cannot restart, its definition no longer validates: data.file", proc.stderr)
        still = json.loads(self.cli("--json", "query", "data-run").stdout)
        self.assertEqual((still["status"], still["counts"]["halted"], still["restarts"]),
                         ("running", 1, 0))
        self.assertExit(self.cli("cancel", "data-run"), 0)


def wall(pair):
    """A [sec, usec] time of a result as Unix seconds."""
    return pair[0] + pair[1] / 1e6


class RepeatTest(CliTestCase):
    """ExecuteTest `repeat` (docs/api.md#repeat) through the real daemon: the gap between
    repetitions (`scheduled`, `next_start_at`, `history`), a fixed cadence that skips, a
    scheduled repetition held by PauseTest, CancelTest, the results_dir files, data read
    again for each repetition, and the -32602 texts of wrong values. JSON-RPC is called
    directly (urllib) where timing matters: one testrun process per poll is too slow to see
    a 0.5 s gap reliably."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.results_dir = tempfile.mkdtemp(prefix="testrun_results_")
        cls.data_dir = tempfile.mkdtemp(prefix="testrun_data_")
        cls.daemon = DaemonProcess({"results_dir": cls.results_dir, "data_dir": cls.data_dir})

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop_clean()
        shutil.rmtree(cls.results_dir, ignore_errors=True)
        shutil.rmtree(cls.data_dir, ignore_errors=True)
        super().tearDownClass()

    # Three instances of 50 ms, with a threshold whose verdict each history entry carries.
    QUICK = {"distribution": {"type": "load", "total": 3},
             "operations": [{"type": "wait", "arguments": {"seconds": 0.05}}],
             "thresholds": [{"metric": "failed_ratio", "max": 0}]}

    def call(self, method, params=None):
        """The JSON-RPC response object (result or error) of one call over HTTP."""
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method,
                           "params": params or {}}).encode()
        request = urllib.request.Request(self.daemon.url, body,
                                         {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=CLI_TIMEOUT) as r:
            return json.loads(r.read())

    def result(self, method, params=None):
        response = self.call(method, params)
        self.assertNotIn("error", response, f"{method} {params}")
        return response["result"]

    def query_until(self, run_id, predicate, what, timeout=20):
        """Polls QueryTest every 20 ms until predicate(result); returns that result."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = self.result("QueryTest", {"run_id": run_id})
            if predicate(result):
                return result
            time.sleep(0.02)
        self.fail(f"run {run_id}: timed out waiting for {what}")

    def listed(self, run_id):
        runs = [r for r in self.result("ListTests")["runs"] if r["run_id"] == run_id]
        return runs[0] if runs else None

    def results_file(self, name):
        with open(os.path.join(self.results_dir, name), encoding="utf-8") as f:
            return json.load(f)

    def results_files(self, run_id):
        return sorted(n for n in os.listdir(self.results_dir) if n.startswith(run_id + "."))

    def assertGone(self, run_id):
        self.assertEqual(self.call("QueryTest", {"run_id": run_id})["error"]["code"], -32001)
        self.assertIsNone(self.listed(run_id))

    def test_from_end_waits_scheduled_between_repetitions_and_writes_each(self):
        definition = dict(self.QUICK, run_id="rep-end", repeat={"count": 3, "interval": 0.5})
        # The CLI sends the definition file as it is, `repeat` included.
        proc = self.cli("execute", self.write("rep-end.json", definition))
        self.assertExit(proc, 0)
        self.assertEqual(proc.stdout, "rep-end\n")

        gap = self.query_until("rep-end", lambda r: r["history"], "repetition 1 to end")
        # Repetition 2 is made and waits, scheduled, 0.5 s after repetition 1 ended.
        self.assertEqual((gap["status"], gap["completed"], gap["repetition"],
                          gap["repetitions"], gap["history_older"]),
                         ("scheduled", 0, 2, 3, 0))
        first = gap["history"][0]
        self.assertEqual((first["repetition"], first["status"]), (1, "completed"))
        self.assertEqual((first["counts"]["started"], first["counts"]["passed"]), (3, 3))
        self.assertEqual((first["thresholds_ok"], first["thresholds"]),
                         (True, [{"text": "failed_ratio <= 0", "ok": True, "value": 0.0}]))
        self.assertGreaterEqual(wall(first["end"]) - wall(first["start"]), 0.05)
        self.assertEqual(gap["next_start_at"], gap["time_start"])
        self.assertAlmostEqual(wall(gap["next_start_at"]) - wall(first["end"]), 0.5, delta=0.02)
        self.assertGreater(wall(gap["next_start_at"]), wall(gap["time_now"]))
        # The current repetition's results (not started yet); progress counts repetitions.
        self.assertEqual(gap["counts"]["started"], 0)
        self.assertAlmostEqual(gap["percent_complete"], 100 / 3)
        entry = self.listed("rep-end")
        self.assertEqual((entry["status"], entry["next_start_at"], entry["repetition"],
                          entry["repetitions"]), ("scheduled", gap["next_start_at"], 2, 3))

        final = self.query_until("rep-end", lambda r: r["completed"] == 1, "the last repetition")
        self.assertEqual((final["status"], final["repetition"], final["repetitions"],
                          final["next_start_at"], final["percent_complete"]),
                         ("completed", 3, 3, None, 100.0))
        history = final["history"]
        self.assertEqual([(h["repetition"], h["status"], h["counts"]["passed"]) for h in history],
                         [(1, "completed", 3), (2, "completed", 3), (3, "completed", 3)])
        self.assertEqual(history[0], first)
        for before, after in zip(history, history[1:]):
            self.assertAlmostEqual(wall(after["start"]) - wall(before["end"]), 0.5, delta=0.02)
        self.assertEqual(final["counts"]["started"], 3)  # the last repetition's

        # One file per repetition (its own QueryTest object) and the whole run's at its end.
        self.assertEqual(self.results_files("rep-end"),
                         ["rep-end.1.json", "rep-end.2.json", "rep-end.3.json", "rep-end.json"])
        for n in (1, 2, 3):
            one = self.results_file(f"rep-end.{n}.json")
            self.assertEqual((one["run_id"], one["status"], one["repetition"],
                              one["repetitions"], one["counts"]["passed"], one["history"]),
                             ("rep-end", "completed", n, 3, 3, []))
            self.assertEqual(one["time_start"], history[n - 1]["start"])
        whole = self.results_file("rep-end.json")
        self.assertEqual((whole["status"], whole["repetition"], whole["history"]),
                         ("completed", 3, history))
        # QueryTest returned it completed after its last repetition: it is discarded.
        self.assertGone("rep-end")

    def test_from_start_skips_the_starts_a_long_repetition_overruns(self):
        # Each repetition takes 0.85 s; starts are planned every 0.4 s: those at +0.4 and
        # +0.8 come while repetition 1 runs, and repetition 4 starts at +1.2.
        definition = {"run_id": "rep-cadence",
                      "operations": [{"type": "wait", "arguments": {"seconds": 0.85}}],
                      "repeat": {"count": 4, "interval": 0.4, "from": "start"}}
        self.result("ExecuteTest", definition)
        running = self.result("QueryTest", {"run_id": "rep-cadence"})
        self.assertEqual((running["status"], running["repetition"], running["repetitions"]),
                         ("running", 1, 4))
        self.assertIsNotNone(running["next_start_at"])  # the cadence's next planned start

        final = self.query_until("rep-cadence", lambda r: r["completed"] == 1, "the run to end")
        self.assertEqual((final["status"], final["repetition"], final["percent_complete"]),
                         ("completed", 4, 100.0))
        history = final["history"]
        # In the order they ended: a skipped one ends at its planned start, before the
        # repetition that overran it.
        self.assertEqual([(h["repetition"], h["status"]) for h in history],
                         [(2, "skipped"), (3, "skipped"), (1, "completed"), (4, "completed")])
        anchor = wall(history[2]["start"])
        for skipped, n in ((history[0], 2), (history[1], 3)):
            self.assertEqual(skipped["status_reason"],
                             "Repetition 1 had not ended at its start.")
            self.assertEqual(skipped["start"], skipped["end"])
            self.assertAlmostEqual(wall(skipped["start"]), anchor + (n - 1) * 0.4, delta=0.002)
            self.assertEqual(set(skipped["counts"].values()), {0})
        self.assertGreater(wall(history[2]["end"]), anchor + 0.8)
        self.assertAlmostEqual(wall(history[3]["start"]), anchor + 1.2, delta=0.002)
        # A skipped repetition never ran: no file of its own.
        self.assertEqual(self.results_files("rep-cadence"),
                         ["rep-cadence.1.json", "rep-cadence.4.json", "rep-cadence.json"])

    def test_pause_holds_a_scheduled_repetition_and_cancel_ends_the_series(self):
        definition = {"run_id": "rep-hold", "repeat": {"count": 0, "interval": 0.5},
                      "distribution": {"type": "load", "total": 2},
                      "operations": [{"type": "eval", "expression": "1"}]}
        self.result("ExecuteTest", definition)
        gap = self.query_until("rep-hold", lambda r: r["history"], "repetition 1 to end")
        next_start = gap["next_start_at"]
        self.assertEqual((gap["status"], gap["repetition"], gap["repetitions"]),
                         ("scheduled", 2, 0))
        self.assertEqual(gap["percent_complete"], 0.0)  # unbounded: the current repetition's
        entry = self.listed("rep-hold")
        self.assertEqual((entry["status"], entry["next_start_at"], entry["repetition"],
                          entry["repetitions"]), ("scheduled", next_start, 2, 0))
        scheduled = self.result("ListTests", {"status": "scheduled"})["runs"]
        self.assertIn("rep-hold", [r["run_id"] for r in scheduled])

        self.assertEqual(self.result("PauseTest", {"run_id": "rep-hold"}),
                         {"run_id": "rep-hold", "status": "paused"})
        # Unpaused before its start it waits for it again, scheduled.
        self.assertEqual(self.result("UnpauseTest", {"run_id": "rep-hold"}),
                         {"run_id": "rep-hold", "status": "scheduled"})
        self.assertEqual(self.result("QueryTest", {"run_id": "rep-hold"})["status"], "scheduled")
        self.assertEqual(self.result("PauseTest", {"run_id": "rep-hold"})["status"], "paused")
        entry = self.listed("rep-hold")
        self.assertEqual((entry["status"], entry["next_start_at"], entry["repetition"]),
                         ("paused", next_start, 2))
        # Held past its start: nothing starts.
        time.sleep(max(0.0, wall(next_start) - time.time()) + 0.4)
        held = self.result("QueryTest", {"run_id": "rep-hold"})
        self.assertEqual((held["status"], held["repetition"], held["counts"]["started"],
                          len(held["history"]), held["next_start_at"]),
                         ("paused", 2, 0, 1, next_start))
        self.assertGreater(wall(held["time_now"]), wall(next_start) + 0.3)

        # Unpaused after its start, it starts at once, anchored then.
        unpaused_at = time.time()
        self.assertEqual(self.result("UnpauseTest", {"run_id": "rep-hold"}),
                         {"run_id": "rep-hold", "status": "running"})
        gap = self.query_until("rep-hold", lambda r: len(r["history"]) == 2,
                               "repetition 2 to end")
        second = gap["history"][1]
        self.assertEqual((second["repetition"], second["status"], second["counts"]["passed"]),
                         (2, "completed", 2))
        self.assertAlmostEqual(wall(second["start"]), unpaused_at, delta=0.1)
        self.assertGreater(wall(second["start"]), wall(next_start) + 0.3)
        self.assertEqual((gap["status"], gap["repetition"]), ("scheduled", 3))
        self.assertAlmostEqual(wall(gap["next_start_at"]) - wall(second["end"]), 0.5, delta=0.02)

        # CancelTest ends the series; repetition 3, cancelled before its start, is not in
        # the history and has no file.
        cancelled = self.result("CancelTest", {"run_id": "rep-hold"})
        self.assertEqual((cancelled["completed"], cancelled["status"], cancelled["cancelled"],
                          cancelled["repetition"], cancelled["next_start_at"]),
                         (1, "cancelled", 1, 3, None))
        self.assertEqual([h["repetition"] for h in cancelled["history"]], [1, 2])
        self.assertGone("rep-hold")
        self.assertEqual(self.results_files("rep-hold"),
                         ["rep-hold.1.json", "rep-hold.2.json", "rep-hold.json"])
        self.assertEqual(self.results_file("rep-hold.json")["status"], "cancelled")

    def test_a_failed_repetition_does_not_end_the_series_and_data_is_read_again(self):
        # Repetition 2 is made (its data file read) when repetition 1 ends, so the file
        # changed while repetition 1 runs is what repetition 2 reads.
        path = os.path.join(self.data_dir, "flag.csv")
        with open(path, "w", encoding="utf-8") as f:
            f.write("ok\n0\n")
        definition = {"run_id": "rep-data", "data": {"file": "flag.csv"},
                      "repeat": {"count": 2, "interval": 0.1},
                      "thresholds": [{"metric": "failed_ratio", "max": 0}],
                      "operations": [{"type": "wait", "arguments": {"seconds": 0.3}},
                                     {"type": "assert", "expression": "d.ok == '1'",
                                      "fail": "not ok"}]}
        self.result("ExecuteTest", definition)
        with open(path, "w", encoding="utf-8") as f:
            f.write("ok\n1\n")
        final = self.query_until("rep-data", lambda r: r["completed"] == 1, "the run to end")
        self.assertEqual([(h["repetition"], h["status"], h["counts"]["failed"],
                           h["thresholds_ok"]) for h in final["history"]],
                         [(1, "failed", 1, False), (2, "completed", 0, True)])
        self.assertEqual(final["history"][0]["status_reason"],
                         "Threshold failed at the end: failed_ratio <= 0 (value 1).")
        # The run ends with its last repetition's status.
        self.assertEqual((final["status"], final["repetition"]), ("completed", 2))

    def test_a_repetition_that_cannot_be_made_fails_the_run(self):
        path = os.path.join(self.data_dir, "gone.csv")
        with open(path, "w", encoding="utf-8") as f:
            f.write("user\ncarol\n")
        definition = {"run_id": "rep-gone", "data": {"file": "gone.csv"},
                      "repeat": {"count": 3, "interval": 0.3},
                      "operations": [{"type": "eval", "expression": "g.user = d.user"}]}
        self.result("ExecuteTest", definition)
        self.query_until("rep-gone", lambda r: r["history"], "repetition 1 to end")
        os.remove(path)  # repetition 2 is made already; repetition 3 cannot be
        final = self.query_until("rep-gone", lambda r: r["completed"] == 1, "the run to end")
        self.assertEqual([(h["repetition"], h["status"]) for h in final["history"]],
                         [(1, "completed"), (2, "completed")])
        self.assertEqual((final["status"], final["repetition"], final["globals"]),
                         ("failed", 2, {"user": "carol"}))
        self.assertTrue(final["status_reason"].startswith(
            "Repetition 3 could not start: its definition no longer validates: data.file "),
            final["status_reason"])
        self.assertEqual(self.results_file("rep-gone.json")["status"], "failed")

    def test_wrong_repeat_values_are_refused_and_start_nothing(self):
        before = self.result("ListTests")
        for repeat, field, problem in (
                ({}, "repeat.count", "is required"),
                ({"count": 2, "from": "middle"}, "repeat.from",
                 'must be "end" or "start", got "middle"'),
                ({"count": 2, "from": "start", "interval": 0.05}, "repeat.interval",
                 'must be at least 0.1 s with from "start", got 0.05'),
                ({"count": 2, "from": "start"}, "repeat.interval", "is required"),
                ({"count": -1}, "repeat.count", "must be between 0 and 1000000000, got -1"),
                ({"count": 2.5}, "repeat.count", "must be an integer, got 2.5"),
                ({"count": 2, "interval": 31622401}, "repeat.interval",
                 "must be between 0 and 31622400, got 31622401"),
                ({"count": 2, "every": 5}, "repeat.every", "is unknown"),
                (5, "repeat", "must be an object, got 5")):
            with self.subTest(repeat=repeat):
                response = self.call("ExecuteTest", {
                    "run_id": "rep-bad", "repeat": repeat,
                    "operations": [{"type": "eval", "expression": "1"}]})
                self.assertEqual(response["error"], {
                    "code": -32602, "message": f"Invalid params: {field} {problem}",
                    "data": [{"field": field, "problem": problem}]})
        self.assertEqual(self.result("ListTests"), before)
        self.assertGone("rep-bad")


class SecureDaemonTest(CliTestCase):
    """Tokens with roles, and TLS (a self-signed certificate made with the openssl CLI)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cert = os.path.join(cls.tmp, "cert.pem")
        cls.key = os.path.join(cls.tmp, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", cls.key, "-out", cls.cert],
                       check=True, capture_output=True)
        cls.daemon = DaemonProcess({"token": ["SECRET:operator", "LOOK:observer"],
                                    "tls_listen": "127.0.0.1:0", "tls_cert": cls.cert,
                                    "tls_key": cls.key})

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop_clean()
        super().tearDownClass()

    def test_token_over_http(self):
        missing = self.cli("info")
        self.assertExit(missing, 5)
        self.assertIn("error -32010", missing.stderr)
        wrong = self.cli("--token", "NOPE", "info")
        self.assertExit(wrong, 5)
        self.assertIn("error -32010", wrong.stderr)
        self.assertExit(self.cli("--token", "LOOK", "info"), 0)
        observer = self.cli("--token", "LOOK", "execute", self.write("pass.json", PASSING))
        self.assertExit(observer, 5)
        self.assertIn("error -32011", observer.stderr)
        run = self.cli("--token", "SECRET", "execute", self.write("pass.json", PASSING),
                       "--watch", "--interval", "0.05")
        self.assertExit(run, 0)

    def test_token_over_framed(self):
        framed = ["--framed", f"127.0.0.1:{self.daemon.port}"]
        missing = self.cli(*framed, "info", url=False)
        self.assertExit(missing, 5)
        self.assertIn("error -32010", missing.stderr)
        run = self.cli(*framed, "--token", "SECRET", "execute",
                       self.write("abort.json", ABORTING), "--watch", "--interval", "0.05",
                       url=False)
        self.assertExit(run, 2)

    def test_tls(self):
        https = ["--url", f"https://127.0.0.1:{self.daemon.tls_port}", "--token", "SECRET"]
        ok = self.cli(*https, "--cacert", self.cert, "execute", self.write("pass.json", PASSING),
                      "--watch", "--interval", "0.05", url=False)
        self.assertExit(ok, 0)
        untrusted = self.cli(*https, "info", url=False)
        self.assertExit(untrusted, 4)
        self.assertIn("CERTIFICATE_VERIFY_FAILED", untrusted.stderr)
        framed = self.cli("--framed", f"tls://127.0.0.1:{self.daemon.tls_port}", "--cacert",
                          self.cert, "--token", "LOOK", "--json", "info", url=False)
        self.assertExit(framed, 0)
        self.assertIn("lua_version", json.loads(framed.stdout))


class ModuleTest(unittest.TestCase):
    """The module API harness scripts use, in process."""

    @classmethod
    def setUpClass(cls):
        sys.path.insert(0, os.path.dirname(os.path.realpath(SCRIPT)))
        sys.dont_write_bytecode = True
        import testrun
        cls.testrun = testrun
        cls.daemon = DaemonProcess()

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop_clean()

    def test_client_call_wait_verdict(self):
        tr = self.testrun
        with tr.Client(self.daemon.url) as client:
            self.assertIn("lua_version", client.call("GetServerInfo"))
            run_id = client.execute_test(FAILING, run_id="mod-1")
            self.assertEqual(run_id, "mod-1")
            polls = []
            final = client.wait(run_id, interval=0.05, on_poll=polls.append)
            self.assertEqual(final["completed"], 1)
            self.assertEqual(tr.verdict(final), (1, ["20 instance(s) failed"]))
            self.assertEqual(tr.verdict(final, max_failed_ratio=1.0)[0], 0)
            with self.assertRaises(tr.RpcError) as cm:
                client.query_test(run_id)
            self.assertEqual(cm.exception.code, -32001)
            with self.assertRaises(tr.RpcError) as cm:
                client.call("ExecuteTest", BROKEN)
            self.assertEqual(cm.exception.code, -32602)
            self.assertEqual(len(cm.exception.data), 4)
        with tr.Client(framed=f"127.0.0.1:{self.daemon.port}") as client:
            self.assertEqual(client.list_tests(tag="none-such"), [])
            # A run's own thresholds: the daemon's verdict counts, its failed_ratio replaces
            # the failed/aborted rule.
            tolerant = tr.apply_overrides(ONE_IN_FIVE_FAILS, thresholds=[
                tr.parse_threshold("failed_ratio<0.25"), tr.parse_threshold("latency_p99[1]<5")])
            final = client.wait(client.execute_test(tolerant), interval=0.05)
            self.assertEqual(final["status"], "completed")
            self.assertEqual(tr.verdict(final), (0, [
                "10 of 50 instance(s) failed or aborted, tolerated by failed_ratio <= 0.25 "
                "(value 0.2)"]))
            strict = tr.apply_overrides(ONE_IN_FIVE_FAILS, thresholds=[
                tr.parse_threshold("failed_ratio<0.1")])
            final = client.wait(client.execute_test(strict), interval=0.05)
            self.assertEqual(final["status"], "failed")
            self.assertEqual(tr.verdict(final),
                             (1, ["threshold failed: failed_ratio <= 0.1 (value 0.2)"]))
            # A client-side ratio still works on top (and is what it judges by).
            self.assertEqual(tr.verdict(final, max_failed_ratio=0.3)[0], 1)
        with self.assertRaises(ConnectionError):
            tr.Client(f"http://127.0.0.1:{free_port()}").server_info()

    def test_overrides_and_set(self):
        tr = self.testrun
        self.assertEqual(tr.parse_set("v.a.b=[1,2]"), ("v", ["a", "b"], [1, 2]))
        self.assertEqual(tr.parse_set("v.s=hello world"), ("v", ["s"], "hello world"))
        self.assertEqual(tr.parse_set('v.s="12"'), ("v", ["s"], "12"))
        with self.assertRaises(ValueError):
            tr.parse_set("g.x=1")
        params = tr.apply_overrides({"operations": []}, run_id="r", rate=5.0, total=10,
                                    sets=[("v", ["n"], 1), ("g", ["m"], 2)], tags=["t"])
        self.assertEqual(params, {"operations": [], "run_id": "r",
                                  "distribution": {"type": "linear", "rate": 5.0, "total": 10},
                                  "vars": {"n": 1}, "globals": {"m": 2}, "tags": ["t"]})
        mine = {"metric": "aborted_ratio", "max": 0}
        params = tr.apply_overrides({"operations": [], "thresholds": [mine]},
                                    thresholds=[{"metric": "failed_ratio", "max": 0.1}])
        self.assertEqual(params["thresholds"], [mine, {"metric": "failed_ratio", "max": 0.1}])

    def test_parse_threshold(self):
        tr = self.testrun
        for text, threshold in (
                ("latency_p99[3]<0.25", {"metric": "latency_p99", "op_idx": 3, "max": 0.25}),
                ("latency_p99[3]<=0.25", {"metric": "latency_p99", "op_idx": 3, "max": 0.25}),
                ("started_rate>100", {"metric": "started_rate", "min": 100}),
                ("started_rate>=1e2", {"metric": "started_rate", "min": 100}),
                ("failed_ratio<0.01:abort:after=10",
                 {"metric": "failed_ratio", "max": 0.01, "abort": True, "after": 10}),
                (" latency_mean [0] < 0.5 : every=0.25 ",
                 {"metric": "latency_mean", "op_idx": 0, "max": 0.5, "interval": 0.25})):
            with self.subTest(text=text):
                self.assertEqual(tr.parse_threshold(text), threshold)
        with self.assertRaisesRegex(ValueError, r"--threshold 'p99': expected METRIC\[OP\]<BOUND"):
            tr.parse_threshold("p99")


if __name__ == "__main__":
    unittest.main(verbosity=2)
