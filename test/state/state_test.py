#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""state_dir (docs/decisions.md, "State that survives the daemon") with the real testrund
binary: a daemon killed with SIGKILL, or stopped with SIGTERM, and started again on the same
state_dir brings back a one-shot run that was running as `interrupted` (completed, with its
results of the last checkpoint or of the stop), a scheduled run at its start, a paused
scheduled run paused, a repeating run with its interrupted repetition in `history` and the
next one planned, and a completed run as it was, its run_id still taken; a webhook report
still pending at a SIGKILL is sent after the restart, its attempts counting on, and a run
that comes back interrupted reports its end; a corrupt file is moved aside and the daemon
starts anyway. Python 3 standard library only.
"""

import json
import os
import shutil
import signal
import tempfile
import time
import unittest

from daemon_process import DaemonProcess
from polling import free_port, wait_for
from rpc_http import call, result
from webhook_receiver import Receiver

HALTING = {"operations": [{"type": "eval", "expression": "g.n = g.n + 1"},
                          {"type": "halt", "arguments": {"seconds": 600}}],
           "globals": {"n": 0}, "distribution": {"type": "load", "total": 3}}


def definition(run_id, **extra):
    d = json.loads(json.dumps(HALTING))
    d["run_id"] = run_id
    d.update(extra)
    return d


class StateDirTest(unittest.TestCase):
    def setUp(self):
        self.state_dir = tempfile.mkdtemp(prefix="testrund_state_")
        self.addCleanup(shutil.rmtree, self.state_dir, True)

    def start(self):
        daemon = DaemonProcess({"state_dir": self.state_dir, "checkpoint_interval": "1"})
        self.addCleanup(daemon.stop)
        return daemon

    def start_runs(self, url):
        now = time.time()
        result(url, "ExecuteTest", definition("oneshot"))
        result(url, "ExecuteTest", definition("later", start_at=now + 300))
        result(url, "ExecuteTest", definition("held", start_at=now + 300))
        result(url, "PauseTest", {"run_id": "held"})
        result(url, "ExecuteTest", definition("nightly", repeat={"count": 5, "interval": 300}))
        done = definition("done")
        done["operations"] = [{"type": "eval", "expression": "g.n = g.n + 1"}]
        result(url, "ExecuteTest", done)
        wait_for(lambda: result(url, "QueryTest", {"run_id": "oneshot"})["counts"]["halted"] == 3,
                 "oneshot halted")
        wait_for(lambda: result(url, "QueryTest", {"run_id": "nightly"})["counts"]["halted"] == 3,
                 "nightly halted")
        return now

    def check_restored(self, url, how):
        # Listed first: QueryTest returning it completed lets retention (0 s) discard it.
        listed = result(url, "ListTests", {"status": "interrupted"})["runs"]
        self.assertEqual([r["run_id"] for r in listed], ["oneshot"])
        oneshot = result(url, "QueryTest", {"run_id": "oneshot"})
        self.assertEqual((oneshot["status"], oneshot["completed"]), ("interrupted", 1))
        self.assertEqual(oneshot["counts"]["started"], 3)
        self.assertEqual(oneshot["counts"]["halted"], 3)
        self.assertEqual(oneshot["globals"], {"n": 3})
        self.assertIn("The daemon stopped while the run was running", oneshot["status_reason"])
        later = result(url, "QueryTest", {"run_id": "later"})
        self.assertEqual(later["status"], "scheduled")
        held = result(url, "QueryTest", {"run_id": "held"})
        self.assertEqual(held["status"], "paused")
        self.assertEqual(held["next_start_at"], later["next_start_at"])
        nightly = result(url, "QueryTest", {"run_id": "nightly"})
        self.assertEqual(nightly["status"], "scheduled")
        self.assertEqual(nightly["repetition"], 2)
        self.assertEqual([h["status"] for h in nightly["history"]], ["interrupted"])
        self.assertEqual(nightly["history"][0]["counts"]["started"], 3)
        done = result(url, "QueryTest", {"run_id": "done"})
        self.assertEqual((done["status"], done["globals"]), ("completed", {"n": 3}))
        refused = call(url, "ExecuteTest", definition("done"))
        self.assertEqual(refused["error"]["code"], -32002, how)

    def test_kill_9_then_restart(self):
        first = self.start()
        self.start_runs(first.url)
        time.sleep(1.3)  # one checkpoint with every instance halted
        os.kill(first.pid, signal.SIGKILL)
        first.child.proc.wait(10)
        second = self.start()
        self.check_restored(second.url, "after SIGKILL")

    def test_sigterm_then_restart(self):
        first = self.start()
        self.start_runs(first.url)
        self.assertEqual(first.stop(), 0)
        second = self.start()
        self.check_restored(second.url, "after SIGTERM")
        # Brought back again after a second stop, as they were; the runs returned completed
        # were discarded, and their files with them.
        self.assertEqual(second.stop(), 0)
        third = self.start()
        statuses = {r["run_id"]: r["status"] for r in result(third.url, "ListTests")["runs"]}
        self.assertEqual(statuses, {"later": "scheduled", "held": "paused",
                                    "nightly": "scheduled"})

    def saved_reporter(self, run_id):
        """The first reporter as the run's state file keeps it, or None."""
        try:
            with open(os.path.join(self.state_dir, run_id + ".json"), encoding="utf-8") as f:
                return json.load(f).get("reporters", [None])[0]
        except (OSError, ValueError):
            return None  # not written yet, or being replaced

    def test_pending_reports_are_sent_after_a_restart(self):
        port = free_port()  # nothing listens yet: every attempt is refused
        hook = f"http://127.0.0.1:{port}"
        first = self.start()
        done = definition("done", reporters=[{"type": "webhook", "url": hook + "/done",
                                              "on": ["final"]}])
        done["operations"] = [{"type": "eval", "expression": "g.n = g.n + 1"}]
        result(first.url, "ExecuteTest", done)
        result(first.url, "ExecuteTest",
               definition("cut", reporters=[{"type": "webhook", "url": hook + "/cut",
                                           "on": ["final"]}]))
        # The first attempt failed and the file says so (the retries wait 1 s, then 5 s).
        wait_for(lambda: (self.saved_reporter("done") or {}).get("pending", [{}])[0]
                 .get("failed_attempts", 0) >= 1, "done's first failed attempt saved")
        os.kill(first.pid, signal.SIGKILL)
        first.child.proc.wait(10)
        saved = self.saved_reporter("done")
        failures = saved["pending"][0]["failed_attempts"]
        self.assertIn(failures, (1, 2))
        self.assertIn("connection refused", saved["pending"][0]["last_error"])
        self.assertEqual(saved["state"], "idle")

        receiver = Receiver(port=port)
        self.addCleanup(receiver.close)
        second = self.start()
        wait_for(lambda: receiver.count() == 2, "both reports received")
        bodies = {path: (headers["X-Testrund-Event"], json.loads(body))
                  for path, headers, body, _ in receiver.requests}
        self.assertEqual(bodies["/done"][0], "final")
        self.assertEqual((bodies["/done"][1]["status"], bodies["/done"][1]["globals"]),
                         ("completed", {"n": 3}))
        self.assertEqual(bodies["/cut"][0], "final")
        self.assertEqual(bodies["/cut"][1]["status"], "interrupted")
        done_now = result(second.url, "QueryTest", {"run_id": "done"})["reporters"][0]
        self.assertEqual((done_now["state"], done_now["attempts"], done_now["sent"]),
                         ("sent", failures + 1, 1))
        cut_now = result(second.url, "QueryTest", {"run_id": "cut"})["reporters"][0]
        self.assertEqual((cut_now["state"], cut_now["attempts"], cut_now["sent"]),
                         ("sent", 1, 1))
        time.sleep(0.5)
        self.assertEqual(receiver.count(), 2, "each report once")

    def test_a_corrupt_file_is_moved_aside(self):
        with open(os.path.join(self.state_dir, "broken.json"), "w", encoding="utf-8") as f:
            f.write('{"format": 1, "run_id": "broken", "params": ')
        with open(os.path.join(self.state_dir, "wrong.json"), "w", encoding="utf-8") as f:
            f.write('{"format": 1, "run_id": "wrong", "params": 3}')
        daemon = self.start()
        self.assertEqual(result(daemon.url, "ListTests")["runs"], [])
        corrupt = sorted(os.listdir(os.path.join(self.state_dir, "corrupt")))
        self.assertEqual(corrupt, ["broken.json", "wrong.json"])
        log = daemon.log()
        self.assertIn("broken.json moved aside: not JSON", log)
        self.assertIn("wrong.json moved aside: params is not an object", log)


if __name__ == "__main__":
    unittest.main(verbosity=2)
