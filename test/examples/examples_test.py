# SPDX-License-Identifier: Apache-2.0
"""Runs every definition file in scripts/examples/ against the real daemon.

Each example is run the way scripts/examples/README.md tells a user to run it:
`scripts/testrun execute scripts/examples/FILE.json --watch ...` from the source root, with
TESTRUN_URL pointing at a testrund started here on 127.0.0.1:0. Whatever the README says an
example needs is done here too: the HTTP example gets `python3 -m http.server` on loopback,
the halt-and-resume example gets its instances resumed with `scripts/testrun resume`.
Only --interval (polling speed) is added to the README's command lines.

A new *.json in scripts/examples/ without a test here makes test_every_example_is_run fail.

Environment: TESTRUND_BINARY (the daemon), TESTRUN_SCRIPT (scripts/testrun) and PYTHONPATH
(test/pylib); meson sets all three.
"""

import glob
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

from child_process import ChildProcess
from daemon_process import DaemonProcess

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.dirname(os.path.dirname(HERE))
EXAMPLES = os.path.join(SOURCE_ROOT, "scripts", "examples")
SCRIPT = os.environ.get("TESTRUN_SCRIPT", os.path.join(SOURCE_ROOT, "scripts/testrun"))
CLI_TIMEOUT = 60
POLL = ["--interval", "0.2"]

# Every example and the test that runs it (checked both ways by test_every_example_is_run).
COVERED = {
    "smoke.json": "test_smoke",
    "http-linear.json": "test_http_linear",
    "halt-resume.json": "test_halt_resume",
    "ci-ramp.json": "test_ci_ramp_passes",
    "sip-uac.json": "test_sip_uac",
}


def testrun(*args, url):
    """Runs scripts/testrun from the source root with TESTRUN_URL set; returns
    (exit status, stdout, stderr)."""
    env = dict(os.environ, TESTRUN_URL=url, PYTHONDONTWRITEBYTECODE="1")
    env.pop("TESTRUN_TOKEN", None)
    proc = subprocess.run([sys.executable, SCRIPT, *args], cwd=SOURCE_ROOT, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=CLI_TIMEOUT)
    return proc.returncode, proc.stdout, proc.stderr


def example(name):
    return os.path.join("scripts", "examples", name)


class ExamplesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.daemon = DaemonProcess()
        cls.url = cls.daemon.url
        cls.tmp = tempfile.TemporaryDirectory()

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop_clean()
        cls.tmp.cleanup()

    def run_cli(self, *args):
        return testrun(*args, url=self.url)

    def assertExit(self, result, expected):
        code, out, err = result
        self.assertEqual(code, expected, f"exit {code}, expected {expected}\n"
                                         f"--- stdout\n{out}--- stderr\n{err}")

    def saved(self, name):
        with open(os.path.join(self.tmp.name, name), encoding="utf-8") as f:
            return json.load(f)

    # ---------------------------------------------------------------------------------------

    def test_every_example_is_run(self):
        files = sorted(os.path.basename(p) for p in glob.glob(os.path.join(EXAMPLES, "*.json")))
        self.assertEqual(files, sorted(COVERED), "every scripts/examples/*.json needs a test")
        with open(os.path.join(EXAMPLES, "README.md"), encoding="utf-8") as f:
            readme = f.read()
        for name, test in COVERED.items():
            self.assertTrue(hasattr(self, test), test)
            self.assertIn(name, readme, f"scripts/examples/README.md does not mention {name}")
            with open(os.path.join(EXAMPLES, name), encoding="utf-8") as f:
                definition = json.load(f)
            self.assertIsInstance(definition.get("operations"), list, name)
            # No fixed run_id: a run_id stays taken for 10 minutes after its run is
            # discarded, and the examples must run again and again as they are.
            self.assertNotIn("run_id", definition, name)

    def test_smoke(self):
        # README: scripts/testrun execute scripts/examples/smoke.json --watch
        result = self.run_cli("execute", example("smoke.json"), "--watch", *POLL,
                              "--save", os.path.join(self.tmp.name, "smoke.json"))
        self.assertExit(result, 0)
        out = result[1]
        self.assertRegex(out, r"^started run tr_\d+\n")
        self.assertIn("counts: started 1  finished 1  passed 1  failed 0  aborted 0", out)
        self.assertIn('globals: {"answer": 42}', out)
        self.assertRegex(out, r"2 +2 +pass +n is 42")
        self.assertIn("result: PASSED (exit 0)", out)
        final = self.saved("smoke.json")
        self.assertEqual(final["status"], "completed")
        self.assertEqual(final["counts"]["passed"], 1)
        self.assertEqual([e["op_idx"] for e in final["latency"]], [3])

    def test_http_linear(self):
        # README: python3 -m http.server 8000 --bind 127.0.0.1 --directory scripts/examples
        # (here on a free port, passed in with --set v.base=..., as the README shows).
        server = ChildProcess([sys.executable, "-u", "-m", "http.server", "0", "--bind",
                               "127.0.0.1", "--directory", "scripts/examples"],
                              r"Serving HTTP on \S+ port (\d+)", stream="stdout",
                              what="python3 -m http.server", cwd=SOURCE_ROOT)
        try:
            base = f"http://127.0.0.1:{server.match.group(1)}"
            result = self.run_cli("execute", example("http-linear.json"), "--watch", *POLL,
                                  "--set", f"v.base={base}",
                                  "--save", os.path.join(self.tmp.name, "http.json"))
        finally:
            server.stop()
        if result[0] == 5 and 'unknown operation type "http"' in result[2]:
            self.skipTest("this testrund has no http op yet")
        self.assertExit(result, 0)
        out = result[1]
        self.assertIn("counts: started 60  finished 60  passed 60  failed 0  aborted 0", out)
        self.assertRegex(out, r"pass +status 200 as expected")
        self.assertRegex(out, r'pass +json "vars.n" is 6')
        self.assertRegex(out, r"pass +got smoke\.json in \d+\.\d{3} s")
        final = self.saved("http.json")
        self.assertEqual(final["counts"]["passed"], 60)
        self.assertEqual(final["counts"]["late"], 0)
        # 60 instances at 20/s: the last one is due at 2.95 s.
        self.assertGreater(final["duration"], 2.9)
        self.assertEqual(sorted(e["op_idx"] for e in final["latency"]), [0, 2])

    def test_halt_resume(self):
        # README: terminal 1 executes and watches; terminal 2 lists the halted instances and
        # resumes instance 0 with v.code=42 (passes) and instance 1 with v.code=7 (fails).
        env = dict(os.environ, TESTRUN_URL=self.url, PYTHONDONTWRITEBYTECODE="1")
        watcher = subprocess.Popen(
            [sys.executable, SCRIPT, "execute", example("halt-resume.json"), "--watch", *POLL],
            cwd=SOURCE_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        try:
            first = watcher.stdout.readline()
            m = re.match(r"started run (\S+)$", first)
            self.assertTrue(m, f"first line: {first!r}\n{watcher.stderr.read() if watcher.poll() is not None else ''}")
            run_id = m.group(1)
            deadline = time.monotonic() + 30
            while True:
                result = self.run_cli("halted", run_id)
                self.assertExit(result, 0)
                rows = [line for line in result[1].splitlines() if re.match(r"\d+ ", line)]
                if len(rows) == 2 or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            self.assertEqual(len(rows), 2, result[1])
            self.assertRegex(result[1],
                             r"instance +op +label +timeout_s +comment +halted at +left_s")
            for instance, row in enumerate(rows):
                self.assertRegex(row, rf"^{instance} +1 +ask-operator +300 +check the SUT, "
                                      r"then: testrun resume RUN_ID INSTANCE --set v\.code=42 +"
                                      r"\d{4}-\d\d-\d\d [\d:.]+ +[\d.]+$")
            result = self.run_cli("resume", run_id, "0", "--set", "v.code=42")
            self.assertExit(result, 0)
            self.assertEqual(result[1], f"resumed instance 0 of run {run_id}\n")
            self.assertExit(self.run_cli("resume", run_id, "1", "--set", "v.code=7"), 0)
            out, err = watcher.communicate(timeout=CLI_TIMEOUT)
        finally:
            if watcher.poll() is None:
                watcher.kill()
                watcher.communicate()
        self.assertEqual(watcher.returncode, 1, f"--- stdout\n{first}{out}--- stderr\n{err}")
        self.assertIn("counts: started 2  finished 2  passed 1  failed 1  aborted 0", out)
        self.assertRegex(out, r"2 +1 +T-101: code should be 42, is 7")
        self.assertRegex(out, r"first call \(instance 0\) check_log:\n.*\n +2 +2 +pass +"
                              r"T-100: code 42 accepted")
        self.assertIn("result: FAILED (exit 1): 1 instance(s) failed", out)

    def test_sip_uac(self):
        # README: sipp -sn uas -i 127.0.0.1 -p 5060 (here on a free port, passed in with
        # --set v.uri=..., as the README shows).
        if shutil.which("sipp") is None:
            self.skipTest("SIPp (sip-tester) is not installed")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        sipp = subprocess.Popen(["sipp", "-sn", "uas", "-i", "127.0.0.1", "-p", str(port),
                                 "-nostdin", "-nd"], cwd=self.tmp.name,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.3)
            result = self.run_cli("execute", example("sip-uac.json"), "--watch", *POLL,
                                  "--set", f"v.uri=sip:service@127.0.0.1:{port}",
                                  "--save", os.path.join(self.tmp.name, "sip.json"))
        finally:
            sipp.kill()
            sipp.wait()
        self.assertExit(result, 0)
        out = result[1]
        self.assertIn("counts: started 100  finished 100  passed 100  failed 0  aborted 0", out)
        self.assertRegex(out, r"pass +the answer has an audio stream")
        final = self.saved("sip.json")
        self.assertEqual(final["counts"]["passed"], 100)
        self.assertEqual(final["sip"]["malformed"], 0)
        self.assertEqual(final["sip"]["rejected"], 0)
        self.assertEqual(sorted(e["op_idx"] for e in final["latency"]), [1, 4, 6])

    def test_ci_ramp_passes(self):
        # README: the CI command line; 3 of 175 instances fail, under the tolerated ratio.
        result = self.run_cli("execute", example("ci-ramp.json"), "--watch", *POLL,
                              "--max-failed-ratio", "0.05", "--max-p99", "1=0.25",
                              "--save", os.path.join(self.tmp.name, "ci.json"))
        self.assertExit(result, 0)
        out = result[1]
        self.assertIn("counts: started 175  finished 175  passed 172  failed 3  aborted 0", out)
        self.assertIn("tags: ci, ramp", out)
        self.assertRegex(out, r"\nthresholds:\n  ok  failed_ratio <= 0\.05    value 0\.0171429\n"
                              r"  ok  latency_p99\[1\] <= 0\.25  value 0\.0\d+\n")
        self.assertIn("result: PASSED (exit 0): 3 of 175 instance(s) failed or aborted, "
                      "tolerated by failed_ratio <= 0.05 (value 0.0171429)\n", out)
        final = self.saved("ci.json")
        self.assertEqual(final["status"], "completed")
        self.assertEqual([f["text"] for f in final["first_fails"]],
                         [f"instance {i}: simulated failure (one in 50)" for i in (49, 99, 149)])

    def test_ci_ramp_trips_max_failures(self):
        # README: --set v.fail_every=5 makes one in five fail; the 11th failure trips
        # max_failures (10), the run ends as failed, and the threshold fails the job.
        result = self.run_cli("execute", example("ci-ramp.json"), "--watch", *POLL,
                              "--max-failed-ratio", "0.05", "--max-p99", "1=0.25",
                              "--set", "v.fail_every=5",
                              "--save", os.path.join(self.tmp.name, "ci-fail.json"))
        self.assertExit(result, 1)
        out = result[1]
        self.assertRegex(out, r"run tr_\d+: failed in ")
        self.assertRegex(out, r"result: FAILED \(exit 1\): Failed or aborted instances \(1\d\) "
                              r"exceeded max_failures \(10\); no further instances were "
                              r"started; threshold failed: failed_ratio <= 0\.05 "
                              r"\(value 0\.\d+\)\n")
        final = self.saved("ci-fail.json")
        self.assertEqual(final["status"], "failed")
        # The 11th failure stops the starting; one started just before may fail too.
        self.assertIn(final["counts"]["failed"], (11, 12))
        self.assertIn("max_failures (10)", final["status_reason"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
