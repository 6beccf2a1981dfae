#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Webhook reporters (docs/api.md#reporters) of the real testrund binary, posting to a real
HTTP server on 127.0.0.1 that this test runs: a receiver that refuses the first two attempts
and then accepts gets three identical bodies, each the run's final QueryTest object; the run
is kept past its retention while the report is pending; a repeating run reports each
repetition and its end; a refused connection shows as the reporter's last_error; a URL
outside webhook_allow and every wrong reporter value are -32602, leaving nothing started.
Python 3 standard library only.
"""

import json
import time
import unittest

from daemon_process import DaemonProcess
from rpc_http import call, result
from polling import free_port, wait_for
from webhook_receiver import Receiver


RETENTION = 2  # seconds a completed run is kept once returned

ONE_CHECK = [{"type": "eval", "expression": "g.n = g.n + 1"},
             {"type": "assert", "expression": "g.n > 0"}]


class ReportersTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.daemon = DaemonProcess({"completed_run_retention": str(RETENTION)})
        cls.url = cls.daemon.url

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop_clean()

    def reporter_of(self, run_id):
        return result(self.url, "QueryTest", {"run_id": run_id})["reporters"][0]

    def test_final_report_is_retried_until_accepted_with_the_same_body(self):
        receiver = Receiver(refuse=2)
        self.addCleanup(receiver.close)
        result(self.url, "ExecuteTest", {
            "run_id": "hooked", "globals": {"n": 0}, "operations": ONE_CHECK,
            "reporters": [{"type": "webhook", "url": receiver.url + "/hook",
                           "headers": {"X-Team": "core"}}]})
        wait_for(lambda: receiver.count() >= 1, "the first attempt")
        first = result(self.url, "QueryTest", {"run_id": "hooked"})
        returned = time.monotonic()
        self.assertEqual(first["completed"], 1)
        wait_for(lambda: receiver.count() >= 2, "the second attempt", timeout=5)
        # Past its retention, but a report is pending: the run is still there.
        time.sleep(max(0.0, returned + RETENTION + 0.5 - time.monotonic()))
        pending = self.reporter_of("hooked")
        self.assertEqual(pending["state"], "pending")
        self.assertEqual(pending["last_error"], "HTTP status 503")
        self.assertEqual(pending["on"], ["final"])
        self.assertEqual(pending["url"], receiver.url + "/hook")
        wait_for(lambda: receiver.count() >= 3, "the third attempt", timeout=10)
        wait_for(lambda: self.reporter_of("hooked")["state"] == "sent", "sent", timeout=5)
        done = self.reporter_of("hooked")
        self.assertEqual((done["attempts"], done["sent"], done["failed"]), (3, 1, 0))
        self.assertEqual(done["last_error"], "HTTP status 503")

        # Retried 1 s and then 5 s after a failure, the same body each time.
        times = [r[3] for r in receiver.requests]
        self.assertGreaterEqual(times[1] - times[0], 0.9)
        self.assertGreaterEqual(times[2] - times[1], 4.9)
        bodies = {r[2] for r in receiver.requests}
        self.assertEqual(len(bodies), 1)
        path, headers, body, _ = receiver.requests[2]
        self.assertEqual(path, "/hook")
        self.assertEqual(headers["Content-Type"], "application/json")
        self.assertEqual(headers["X-Team"], "core")
        self.assertEqual(headers["X-Testrund-Event"], "final")
        posted = json.loads(body)
        # The run's final QueryTest object (without the reporters' own state), logs left out.
        final = result(self.url, "QueryTest", {"run_id": "hooked"})
        for member in ("time_now", "reporters"):
            final.pop(member)
        posted.pop("time_now")
        self.assertNotIn("check_log", posted["first_call_summary"])
        for member in ("check_log", "trace_log"):
            final["first_call_summary"].pop(member, None)
        self.assertEqual(posted, final)
        self.assertEqual(posted["globals"], {"n": 1})
        # Retention starts again once the report settled.
        wait_for(lambda: "error" in call(self.url, "QueryTest", {"run_id": "hooked"}),
                 "the run discarded", timeout=RETENTION + 3)

    def test_each_repetition_and_the_end_are_reported(self):
        receiver = Receiver()
        self.addCleanup(receiver.close)
        result(self.url, "ExecuteTest", {
            "run_id": "nightly", "globals": {"n": 0}, "operations": ONE_CHECK,
            "repeat": {"count": 2, "interval": 0.2},
            "reporters": [{"type": "webhook", "url": receiver.url + "/r",
                           "on": ["repetition", "final"], "include_logs": True}]})
        wait_for(lambda: receiver.count() >= 3, "three reports")
        # The last repetition's report and the final one are posted at the same time, each
        # on its own connection: they may arrive in either order.
        reports = [(r[1]["X-Testrund-Event"], json.loads(r[2])) for r in receiver.requests]
        self.assertEqual(sorted(event for event, _ in reports),
                         ["final", "repetition", "repetition"])
        repetitions = sorted((b for event, b in reports if event == "repetition"),
                             key=lambda b: b["repetition"])
        final = next(b for event, b in reports if event == "final")
        self.assertEqual([b["repetition"] for b in repetitions + [final]], [1, 2, 2])
        self.assertEqual([len(b["history"]) for b in repetitions + [final]], [0, 0, 2])
        self.assertEqual(final["status"], "completed")
        self.assertEqual(repetitions[0]["first_call_summary"]["check_log"][0]["status"], "pass")
        wait_for(lambda: self.reporter_of("nightly")["sent"] == 3, "all sent")
        call(self.url, "CancelTest", {"run_id": "nightly"})

    def test_a_refused_connection_is_the_reporters_last_error(self):
        port = free_port()
        result(self.url, "ExecuteTest", {
            "run_id": "refused", "globals": {"n": 0}, "operations": ONE_CHECK,
            "reporters": [{"type": "webhook", "url": f"http://127.0.0.1:{port}/x"}]})
        wait_for(lambda: self.reporter_of("refused")["last_error"] is not None, "a failure")
        reporter = self.reporter_of("refused")
        self.assertEqual(reporter["state"], "pending")
        self.assertEqual(reporter["attempts"], 1)
        self.assertIn("refused", reporter["last_error"])
        call(self.url, "CancelTest", {"run_id": "refused"})

    def test_wrong_reporters_are_invalid_params_and_start_nothing(self):
        before = result(self.url, "ListTests")
        cases = [
            ([{"type": "webhook", "url": "http://10.1.2.3/hook"}],
             "reporters[0].url", "host \"10.1.2.3\" is not in webhook_allow"),
            ([{"type": "email", "url": "http://127.0.0.1/x"}],
             "reporters[0].type", "must be \"webhook\", got \"email\""),
            ([{"type": "webhook", "url": "http://127.0.0.1/x", "on": ["never"]}],
             "reporters[0].on[0]", "must be \"final\" or \"repetition\", got \"never\""),
            ({"type": "webhook"}, "reporters", None),
        ]
        for reporters, field, problem in cases:
            with self.subTest(field=field):
                response = call(self.url, "ExecuteTest", {
                    "run_id": "never", "operations": ONE_CHECK, "reporters": reporters})
                error = response["error"]
                self.assertEqual(error["code"], -32602)
                self.assertEqual(error["data"][0]["field"], field)
                if problem is not None:
                    self.assertEqual(error["data"][0]["problem"], problem)
        self.assertEqual(result(self.url, "ListTests"), before)


if __name__ == "__main__":
    unittest.main(verbosity=2)
