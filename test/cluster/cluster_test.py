#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A coordinator (docs/scale-out.md) over local clusters of real daemons on 127.0.0.1.

One reference daemon runs each definition whole; coordinators over 1, 3 and 4 workers run it
sharded, and the merged QueryTest after completion must equal the reference in everything
that does not depend on timing. Further: ResumeInstance reaches the right shard, CancelTest,
PauseTest and UnpauseTest reach every shard, a killed worker is `lost` while QueryTest goes
on answering `degraded`, a refusing worker fails ExecuteTest and leaves nothing running, bad
input gets the daemon's own error, pipelined and batched calls keep their order, a client
that leaves first does no harm, a worker name is resolved, and `testrun workers` lists them.
Python 3 standard library only.
"""

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import unittest

from daemon_process import DaemonProcess, default_binary
from rpc_http import call, result
from polling import free_port, wait_for

SHARD_LEAD = "0.1"


def framed(address, request, read=True):
    """One framed call (docs/api.md#1-transports); the response object, or None."""
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        body = json.dumps(request).encode()
        s.sendall(struct.pack(">I", len(body)) + body)
        if not read:
            return None
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return json.loads(data[4:]) if data else None


def wait_completed(url, run_id, timeout=30):
    """Polls QueryTest until completed; the final result (the run is then discarded)."""
    return wait_for(lambda: (lambda r: r if r.get("completed") == 1 else None)(
        result(url, "QueryTest", {"run_id": run_id})), f"run {run_id} to complete", timeout)


def comparable(r):
    """What must be equal between a single daemon's result and a merged one."""
    counts = {k: v for k, v in r["counts"].items() if k != "late"}
    reasons = lambda key: sorted((e["op_idx"], e["text"], e["count"]) for e in r[key])
    firsts = lambda key: sorted((e["op_idx"], e["text"], e["first_instance"]) for e in r[key]
                                if "first_instance" in e)
    summary = r["first_call_summary"]
    strip = lambda entries: [{k: v for k, v in e.items() if k not in ("time", "t")}
                             for e in entries or []]
    return {
        "completed": r["completed"], "status": r["status"], "counts": counts,
        "first_fails": reasons("first_fails"), "first_aborts": reasons("first_aborts"),
        "first_fail_instances": firsts("first_fails"),
        "first_abort_instances": firsts("first_aborts"),
        "globals": r["globals"], "halted": r["halted"], "halted_total": r["halted_total"],
        "latency_counts": {e["op_idx"]: e["count"] for e in r.get("latency", [])},
        "bucket_started": sum(b["num_calls_started"] for b in r["buckets"]),
        "bucket_finished": sum(b["num_calls_finished"] for b in r["buckets"]),
        "check_log": summary.get("check_log"), "trace_log": strip(summary.get("trace_log")),
        "tags": r["tags"],
    }


# Instance k: a seeded random value, g.five from instance 5, a 1 ms wait (latency), a failed
# check for k % 3 == 0, an abort for k % 7 == 0, a 50 ms halt that times out for k % 5 == 1.
OPERATIONS = [
    {"type": "eval", "expression": "v.x = math.random(1000000)"},
    {"type": "eval", "expression": "if instance == 5 then g.five = v.x end"},
    {"type": "wait", "arguments": {"seconds": 0.001}},
    {"type": "assert", "expression": "instance % 3 ~= 0", "fail": "{\"div3 x=\" .. v.x}",
     "pass": "{\"ok \" .. v.x}"},
    {"type": "eval", "expression": "if instance % 7 == 0 then error('seven') end"},
    {"type": "branch", "expression": "instance % 5 ~= 1", "on_true": "end"},
    {"type": "halt", "arguments": {"seconds": 0.05}},
    {"type": "comment", "label": "end", "text": "done"},
]
DEFINITIONS = {
    "load": {"distribution": {"type": "load", "total": 60, "backlog": 7}},
    "linear": {"distribution": {"type": "linear", "rate": 200, "total": 50}},
    "stages": {"distribution": {"type": "linear", "stages": [{"duration": 0.15, "rate": 200},
                                                             {"duration": 0.15, "rate": 100}]}},
}


def definition(kind, run_id):
    d = {"run_id": run_id, "seed": 42, "trace_level": 2, "globals": {"keep": 1},
         "tags": ["cluster"], "operations": OPERATIONS}
    d.update(json.loads(json.dumps(DEFINITIONS[kind])))
    return d


class Cluster:
    """`n` new workers and a coordinator over them."""

    def __init__(self, n, workers=None, **options):
        self.workers = workers if workers is not None else [DaemonProcess() for _ in range(n)]
        merged = {"coordinator": "true", "shard_lead": SHARD_LEAD,
                  "workers": ",".join(w.address for w in self.workers)}
        merged.update(options)
        self.coordinator = DaemonProcess(merged)
        self.url = self.coordinator.url
        self.owned = workers is None

    def stop(self):
        self.coordinator.stop()
        if self.owned:
            for w in self.workers:
                w.stop()


class ClusterTest(unittest.TestCase):
    maxDiff = None
    @classmethod
    def setUpClass(cls):
        cls.reference = DaemonProcess()
        cls.pool = [DaemonProcess() for _ in range(4)]
        cls.clusters = {n: Cluster(n, workers=cls.pool[:n]) for n in (1, 3, 4)}

    @classmethod
    def tearDownClass(cls):
        for c in cls.clusters.values():
            c.stop()
        for w in cls.pool:
            w.stop()
        cls.reference.stop()

    def test_merged_results_equal_a_single_daemon(self):
        expected = {}
        started = []
        for kind in DEFINITIONS:
            result(self.reference.url, "ExecuteTest", definition(kind, f"ref-{kind}"))
            for n, cluster in self.clusters.items():
                run_id = f"eq-{kind}-{n}"
                self.assertEqual(result(cluster.url, "ExecuteTest", definition(kind, run_id)),
                                 {"run_id": run_id})
                started.append((kind, n, cluster, run_id))
        for kind in DEFINITIONS:
            expected[kind] = comparable(wait_completed(self.reference.url, f"ref-{kind}"))
            self.assertGreater(expected[kind]["counts"]["aborted"], 0)
        for kind, n, cluster, run_id in started:
            with self.subTest(kind=kind, workers=n):
                merged = wait_completed(cluster.url, run_id)
                self.assertEqual(merged["shards"], {"count": n, "missing": []})
                self.assertEqual(comparable(merged), expected[kind])
                # Discarded after it was returned completed, as on a daemon.
                self.assertEqual(call(cluster.url, "QueryTest", {"run_id": run_id})
                                 ["error"]["code"], -32001)

    def test_halted_resume_and_cancel_reach_the_right_shards(self):
        ops = [{"type": "eval", "expression": "v.k = instance"},
               {"type": "halt", "arguments": {"seconds": 600, "comment": "wait"}},
               {"type": "assert", "expression": "v.go == 1"}]
        d = {"distribution": {"type": "load", "total": 10}, "operations": ops, "seed": 1}
        ref = result(self.reference.url, "ExecuteTest", d)["run_id"]
        cluster = self.clusters[3]
        run_id = result(cluster.url, "ExecuteTest", d)["run_id"]
        self.assertTrue(run_id.startswith("tr_"))
        halted = lambda url, rid: [(h["instance_id"], h["operation"]["idx"])
                                   for h in result(url, "QueryTest", {"run_id": rid})["halted"]]
        wait_for(lambda: len(halted(cluster.url, run_id)) == 10, "10 halted on the cluster")
        wait_for(lambda: len(halted(self.reference.url, ref)) == 10, "10 halted on the daemon")
        self.assertEqual(halted(cluster.url, run_id), halted(self.reference.url, ref))
        # Instance 4 runs on worker 4 mod 3 = 1 (workers in address order).
        order = sorted(self.pool[:3], key=lambda w: w.port)
        self.assertEqual(result(cluster.url, "ResumeInstance",
                                {"run_id": run_id, "instance_id": 4, "vars": {"go": 1}}),
                         {"resumed": 1})
        on_worker = result(order[1].url, "QueryTest", {"run_id": run_id})
        self.assertEqual(on_worker["counts"]["passed"], 1)
        self.assertEqual(result(cluster.url, "QueryTest", {"run_id": run_id})["counts"]
                         ["passed"], 1)
        # The worker's own error is relayed as it is.
        error = call(cluster.url, "ResumeInstance", {"run_id": run_id, "instance_id": 4})["error"]
        self.assertEqual(error["code"], -32004)
        cancelled = result(cluster.url, "CancelTest", {"run_id": run_id})
        self.assertEqual(cancelled["cancelled"], 1)
        self.assertEqual(cancelled["counts"]["cancelled"], 9)
        self.assertEqual(cancelled["status"], "cancelled")
        for w in order:
            self.assertEqual(call(w.url, "QueryTest", {"run_id": run_id})["error"]["code"], -32001)
        self.assertEqual(call(cluster.url, "QueryTest", {"run_id": run_id})["error"]["code"],
                         -32001)
        result(self.reference.url, "CancelTest", {"run_id": ref})

    def test_pause_and_unpause_reach_every_shard(self):
        cluster = self.clusters[4]
        d = {"run_id": "pause-1", "distribution": {"type": "linear", "rate": 20, "duration": 60},
             "operations": [{"type": "eval", "expression": "v.a = 1"}]}
        result(cluster.url, "ExecuteTest", d)
        wait_for(lambda: result(cluster.url, "QueryTest", {"run_id": "pause-1"})["status"]
                 == "running", "the run to start")

        def worker_statuses():
            return [[r["status"] for r in result(w.url, "ListTests")["runs"]
                     if r["run_id"] == "pause-1"] for w in self.pool]

        self.assertEqual(result(cluster.url, "PauseTest", {"run_id": "pause-1"}),
                         {"run_id": "pause-1", "status": "paused"})
        self.assertEqual(worker_statuses(), [["paused"]] * 4)
        listed = result(cluster.url, "ListTests", {"status": "paused"})["runs"]
        self.assertEqual([r["run_id"] for r in listed], ["pause-1"])
        self.assertEqual(result(cluster.url, "UnpauseTest", {"run_id": "pause-1"}),
                         {"run_id": "pause-1", "status": "running"})
        self.assertEqual(worker_statuses(), [["running"]] * 4)
        self.assertEqual(call(cluster.url, "UnpauseTest", {"run_id": "pause-1"})["error"]["code"],
                         -32006)
        result(cluster.url, "CancelTest", {"run_id": "pause-1"})
        self.assertEqual(worker_statuses(), [[]] * 4)

    def test_restart_restarts_every_shard_together(self):
        cluster = self.clusters[3]
        d = {"run_id": "again-1", "globals": {"n": 0}, "distribution": {"type": "load", "total": 6},
             "operations": [{"type": "eval", "expression": "g.n = g.n + 1"},
                            {"type": "halt", "arguments": {"seconds": 600}}]}
        result(cluster.url, "ExecuteTest", d)
        wait_for(lambda: result(cluster.url, "QueryTest", {"run_id": "again-1"})["counts"]
                 ["halted"] == 6, "6 halted")
        restarted = result(cluster.url, "RestartTest", {"run_id": "again-1"})
        self.assertEqual((restarted["run_id"], restarted["restarts"]), ("again-1", 1))
        previous = restarted["previous"]
        self.assertEqual((previous["status"], previous["counts"]["cancelled"]), ("cancelled", 6))
        self.assertEqual(previous["shards"], {"count": 3, "missing": []})
        # Every shard restarted at one start_at: each worker's run starts at the same time.
        starts = {tuple(result(w.url, "QueryTest", {"run_id": "again-1"})["time_start"])
                  for w in self.pool[:3]}
        self.assertEqual(len(starts), 1)
        after = wait_for(lambda: (lambda r: r if r["counts"]["halted"] == 6 else None)(
            result(cluster.url, "QueryTest", {"run_id": "again-1"})), "6 halted again")
        self.assertEqual((after["restarts"], after["counts"]["started"]), (1, 6))
        self.assertEqual(call(cluster.url, "RestartTest", {"run_id": "nope"})["error"]["code"],
                         -32001)
        result(cluster.url, "CancelTest", {"run_id": "again-1"})

    def test_bad_input_gets_the_daemons_error(self):
        cluster = self.clusters[3]
        for params in ({"operations": [{"type": "nosuch"}]},
                       {"operations": [], "distribution": {"type": "linear"}},
                       {"run_id": "bad id!", "operations": [{"type": "eval"}]},
                       {"operations": [{"type": "eval", "expression": "v.a ="}]}):
            with self.subTest(params=params):
                self.assertEqual(call(cluster.url, "ExecuteTest", params),
                                 call(self.reference.url, "ExecuteTest", params))
        for method, params in (("QueryTest", {}), ("QueryTest", {"run_id": "none"}),
                               ("CancelTest", {"run_id": 5}), ("ResumeInstance", {"run_id": "x"}),
                               ("ListTests", {"status": "nosuch"}), ("NoSuch", {})):
            with self.subTest(method=method, params=params):
                self.assertEqual(call(cluster.url, method, params),
                                 call(self.reference.url, method, params))
        # run_id uniqueness among the coordinator's runs, as on a daemon.
        d = {"run_id": "dup", "operations": [{"type": "halt"}]}
        result(cluster.url, "ExecuteTest", d)
        self.assertEqual(call(cluster.url, "ExecuteTest", d)["error"]["code"], -32002)
        result(cluster.url, "CancelTest", {"run_id": "dup"})

    def test_repeat_is_refused(self):
        # A coordinator refuses ExecuteTest `repeat` (docs/decisions.md): nothing starts on
        # any worker. A wrong `repeat` gets the daemon's own error first.
        cluster = self.clusters[3]
        operations = [{"type": "eval", "expression": "1"}]
        problem = ("is not supported through a coordinator; run a repeating run on each "
                   "daemon, or repeat from a client")
        response = call(cluster.url, "ExecuteTest", {
            "run_id": "repeat-1", "repeat": {"count": 2, "interval": 1},
            "operations": operations})
        self.assertEqual(response["error"], {
            "code": -32602, "message": "Invalid params: repeat " + problem,
            "data": [{"field": "repeat", "problem": problem}]})
        self.assertEqual(call(cluster.url, "QueryTest", {"run_id": "repeat-1"})["error"]["code"],
                         -32001)
        for worker in self.pool[:3]:
            self.assertNotIn("repeat-1", [r["run_id"] for r in
                                          result(worker.url, "ListTests")["runs"]])
        bad = {"repeat": {"count": 2, "from": "middle"}, "operations": operations}
        self.assertEqual(call(cluster.url, "ExecuteTest", bad),
                         call(self.reference.url, "ExecuteTest", bad))

    def test_info_lists_the_workers(self):
        cluster = self.clusters[3]
        info = result(cluster.url, "GetServerInfo")
        self.assertEqual(info["mode"], "coordinator")
        self.assertEqual(info["role"], "operator")
        addresses = sorted(w.address for w in self.pool[:3])
        wait_for(lambda: all(w["last_answer"] for w in
                             result(cluster.url, "GetServerInfo")["workers"]), "heartbeats")
        workers = result(cluster.url, "GetServerInfo")["workers"]
        self.assertEqual([w["address"] for w in workers], addresses)
        self.assertEqual({w["state"] for w in workers}, {"up"})
        out = subprocess.run([sys.executable, os.environ["TESTRUN_SCRIPT"], "--url", cluster.url,
                              "workers"], capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        lines = out.stdout.splitlines()
        self.assertEqual(lines[0].split(), ["address", "state", "last", "answer", "runs",
                                            "instances"])
        self.assertEqual([l.split()[:2] for l in lines[1:]], [[a, "up"] for a in addresses])
        out = subprocess.run([sys.executable, os.environ["TESTRUN_SCRIPT"], "--url",
                              self.reference.url, "workers", "--json"],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual((out.returncode, json.loads(out.stdout)), (0, {"workers": []}))

    def test_pipelined_batched_and_abandoned_calls(self):
        cluster = self.clusters[3]
        port = cluster.coordinator.port
        # Two pipelined HTTP requests: the answers come in request order.
        bodies = [json.dumps({"jsonrpc": "2.0", "id": i, "method": m, "params": p})
                  for i, (m, p) in enumerate([("QueryTest", {"run_id": "none"}),
                                              ("GetServerInfo", {})])]
        raw = "".join(f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {len(b)}\r\n\r\n{b}"
                      for b in bodies)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(raw.encode())
            data = b""
            while data.count(b'"id":') < 2:
                data += s.recv(65536)
        first = data.index(b'"id":0')
        self.assertLess(first, data.index(b'"id":1'))
        # A batch answers when every element has.
        batch = [{"jsonrpc": "2.0", "id": "a", "method": "ListTests"},
                 {"jsonrpc": "2.0", "method": "GetServerInfo"},
                 {"jsonrpc": "2.0", "id": "b", "method": "QueryTest", "params": {"run_id": "n"}}]
        answer = framed(cluster.coordinator.address, batch)
        self.assertEqual([a["id"] for a in answer], ["a", "b"])
        self.assertEqual(answer[1]["error"]["code"], -32001)
        # A client that leaves before its answer: the coordinator carries on.
        framed(cluster.coordinator.address, {"jsonrpc": "2.0", "id": 1, "method": "ListTests"},
               read=False)
        self.assertIn("runs", result(cluster.url, "ListTests"))
        self.assertTrue(cluster.coordinator.running())


class WorkerFailureTest(unittest.TestCase):
    def test_a_killed_worker_is_lost_and_the_run_degraded(self):
        cluster = Cluster(2, worker_timeout="1")
        try:
            result(cluster.url, "ExecuteTest", {
                "run_id": "lost-1", "distribution": {"type": "linear", "rate": 50, "duration": 60},
                "operations": [{"type": "eval", "expression": "v.a = 1"}]})
            wait_for(lambda: result(cluster.url, "QueryTest", {"run_id": "lost-1"})["counts"]
                     ["started"] > 4, "the run to start")
            victim = max(cluster.workers, key=lambda w: w.port)  # shard 1
            os.kill(victim.pid, signal.SIGKILL)
            killed = time.monotonic()
            lost = lambda: [w for w in result(cluster.url, "GetServerInfo")["workers"]
                            if w["state"] == "lost"]
            wait_for(lost, "the worker to be lost", timeout=5)
            self.assertLess(time.monotonic() - killed, 5)
            self.assertEqual([w["address"] for w in lost()], [victim.address])
            t = time.monotonic()
            r = result(cluster.url, "QueryTest", {"run_id": "lost-1"})
            self.assertLess(time.monotonic() - t, 0.1)
            self.assertEqual(r["status"], "degraded")
            self.assertIn(victim.address, r["status_reason"])
            self.assertEqual(r["shards"], {"count": 2, "missing": [1]})
            self.assertGreater(r["counts"]["started"], 0)
            # New runs need every worker.
            error = call(cluster.url, "ExecuteTest",
                         {"operations": [{"type": "eval", "expression": "v.a = 1"}]})["error"]
            self.assertIn(victim.address, error["message"])
            listed = result(cluster.url, "ListTests")["runs"]
            self.assertEqual([(e["run_id"], e["status"]) for e in listed],
                             [("lost-1", "degraded")])
        finally:
            cluster.stop()

    def test_a_refusing_worker_fails_execute_and_leaves_nothing_running(self):
        live = DaemonProcess()
        dead = f"127.0.0.1:{free_port()}"
        coordinator = DaemonProcess({"coordinator": "true", "shard_lead": SHARD_LEAD,
                                     "workers": f"{live.address},{dead}"})
        try:
            response = call(coordinator.url, "ExecuteTest", {
                "run_id": "refused-1", "distribution": {"type": "load", "total": 1000},
                "operations": [{"type": "halt"}]})
            self.assertEqual(response["error"]["code"], -32005)
            self.assertIn(dead, response["error"]["message"])
            wait_for(lambda: result(live.url, "ListTests")["runs"] == [],
                     "the started shard to be cancelled", timeout=5)
            self.assertEqual(call(coordinator.url, "QueryTest", {"run_id": "refused-1"})
                             ["error"]["code"], -32001)
        finally:
            coordinator.stop()
            live.stop()

    def test_a_worker_name_is_resolved_and_options_are_checked(self):
        worker = DaemonProcess()
        coordinator = DaemonProcess({"coordinator": "true", "workers": f"localhost:{worker.port}"})
        try:
            workers = wait_for(lambda: (lambda ws: ws if ws and ws[0]["state"] == "up" and
                                        ws[0]["last_answer"] else None)(
                result(coordinator.url, "GetServerInfo")["workers"]), "localhost to resolve")
            self.assertEqual([w["address"] for w in workers], [worker.address])
        finally:
            coordinator.stop()
            worker.stop()
        out = subprocess.run([default_binary(), "--coordinator"], capture_output=True, text=True,
                             timeout=30)
        self.assertEqual(out.returncode, 2)
        self.assertIn("workers: a coordinator needs workers", out.stderr)
        help_text = subprocess.run([default_binary(), "--help"], capture_output=True, text=True,
                                   timeout=30).stdout
        self.assertRegex(help_text, r"--worker-timeout VALUE .*\[5\]")
        self.assertRegex(help_text, r"--shard-lead VALUE .*\[1\]")


if __name__ == "__main__":
    unittest.main(verbosity=2)
