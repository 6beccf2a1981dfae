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

    def test_max_failed_ratio_threshold(self):
        path = self.write("fifth.json", ONE_IN_FIVE_FAILS)
        within = self.cli("execute", path, "--watch", "--quiet", "--interval", "0.05",
                          "--max-failed-ratio", "0.25")
        self.assertExit(within, 0)
        self.assertIn("failed 10", within.stdout)
        self.assertIn("failed ratio 0.2000 <= 0.25: tolerated", within.stdout)
        over = self.cli("execute", path, "--watch", "--quiet", "--interval", "0.05",
                        "--max-failed-ratio", "0.1")
        self.assertExit(over, 1)
        self.assertIn("failed ratio 0.2000 > 0.1 (10 failed, 0 aborted of 50)", over.stdout)
        plain = self.cli("execute", path, "--watch", "--quiet", "--interval", "0.05")
        self.assertExit(plain, 1)

    def test_a_run_stopped_by_max_failures_never_passes(self):
        # A tolerant ratio must not turn a run the daemon ended as "failed" into a pass.
        definition = dict(ONE_IN_FIVE_FAILS, max_failures=1,
                          distribution={"type": "load", "total": 50, "backlog": 1})
        path = self.write("stopped.json", definition)
        proc = self.cli("execute", path, "--watch", "--quiet", "--interval", "0.05",
                        "--max-failed-ratio", "0.9")
        self.assertExit(proc, 1)
        self.assertIn("max_failures (1)", proc.stdout)
        self.assertNotIn(".;", proc.stdout)

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

    def test_max_p99_threshold(self):
        path = self.write("pass.json", PASSING)
        ok = self.cli("execute", path, "--watch", "--quiet", "--interval", "0.05",
                      "--max-p99", "1=5")
        self.assertExit(ok, 0)
        self.assertRegex(ok.stdout, r"op 1: p99 0\.0\d+s <= 5s")
        slow = self.cli("execute", path, "--watch", "--quiet", "--interval", "0.05",
                        "--max-p99", "1=0.001")
        self.assertExit(slow, 1)
        self.assertRegex(slow.stdout, r"result: FAILED \(exit 1\): op 1: p99 0\.0\d+s > 0\.001s")
        # op 0 is an eval: it records no latency, so its threshold cannot hold.
        unknown = self.cli("execute", path, "--watch", "--quiet", "--interval", "0.05",
                           "--max-p99", "0=1")
        self.assertExit(unknown, 1)
        self.assertIn("op 0: no latency samples", unknown.stdout)

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


if __name__ == "__main__":
    unittest.main(verbosity=2)
