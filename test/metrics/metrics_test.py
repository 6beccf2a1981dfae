#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""GET /metrics of the real daemon, checked by the real consumers (docs/metrics.md).

- Runs in every state a run is seen in (running with halted instances, paused, completed,
  failed; a cancelled run is discarded at once, and its series go with it), reasons whose texts hold quotes, backslashes and newlines, a run that plans no
  instance and one that plans 10^7: the 0.0.4 text passes `promtool check metrics` and the
  0.0.4 parser of python3-prometheus-client; the OpenMetrics text passes that package's
  OpenMetrics parser; the values equal what QueryTest says.
- Authentication (a token of either role), content negotiation, wrong methods.
- A real Prometheus server (Debian's `prometheus`, started here on loopback with a 1 s
  scrape interval and a temporary data directory) scrapes a daemon running a known run;
  PromQL through its HTTP API gives the counts exactly and the p99 within the histogram's
  stated error.

Needs python3-prometheus-client and prometheus (scripts/setup installs them); run by the
system interpreter, where Debian installs the client library.
"""

import http.client
import json
import os
import shutil
import subprocess
import tempfile
import unittest
import urllib.parse

from prometheus_client import parser as text_parser
from prometheus_client.openmetrics import parser as openmetrics_parser

from child_process import ChildProcess
from daemon_process import DaemonProcess
from polling import free_port, wait_for

OPERATOR = "op-token-123"
OBSERVER = "obs-token-456"
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"
TEXT_004 = "text/plain; version=0.0.4; charset=utf-8"
# The worst relative width of a bucket of the latency histograms (edges 2^e·(1 + j/4)).
BUCKET_ERROR = 0.25


class Client:
    def __init__(self, port, token):
        self.port = port
        self.token = token

    def get(self, path, headers=None, token=None, method="GET"):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        all_headers = dict(headers or {})
        if token or self.token:
            all_headers["Authorization"] = f"Bearer {token or self.token}"
        conn.request(method, path, headers=all_headers)
        response = conn.getresponse()
        body = response.read().decode("utf-8")
        conn.close()
        return response.status, response.getheader("Content-Type"), body

    def call(self, method, **params):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        conn.request("POST", "/", body, {"Authorization": f"Bearer {self.token}",
                                         "Content-Type": "application/json"})
        reply = json.loads(conn.getresponse().read())
        conn.close()
        if "error" in reply:
            raise AssertionError(f"{method}: {reply['error']}")
        return reply["result"]

    def metrics(self, accept=None):
        status, content_type, body = self.get("/metrics", {"Accept": accept} if accept else {})
        if status != 200:
            raise AssertionError(f"/metrics: HTTP {status}: {body}")
        return content_type, body


# A reason text with every character the label escaping must handle.
AWKWARD = 'say "hi" \\ then\nnewline'


def start_runs(client):
    """Runs in every state a run can be seen in; returns {run_id: expected status}."""
    halt = [{"type": "halt", "arguments": {"seconds": 600}}]
    client.call("ExecuteTest", run_id="running", operations=halt,
                distribution={"type": "load", "total": 3, "backlog": 3})
    client.call("ExecuteTest", run_id="paused", operations=halt,
                distribution={"type": "load", "total": 2, "backlog": 2})
    client.call("PauseTest", run_id="paused")
    client.call("ExecuteTest", run_id="completed",
                operations=[{"type": "wait", "arguments": {"seconds": 0.002}},
                            {"type": "assert", "expression": "instance % 2 == 0"},
                            {"type": "eval", "expression": f"if instance % 3 == 0 then error({json.dumps(AWKWARD)}, 0) end"}],
                distribution={"type": "load", "total": 12, "backlog": 4})
    client.call("ExecuteTest", run_id="failed", max_failures=0,
                operations=[{"type": "eval", "expression": "error('boom', 0)"}],
                distribution={"type": "load", "total": 5, "backlog": 1})
    client.call("ExecuteTest", run_id="planned-none", operations=halt,
                distribution={"type": "linear", "stages": [{"duration": 1, "rate": 0}]})
    client.call("ExecuteTest", run_id="planned-ten-million", operations=halt,
                distribution={"type": "load", "total": 10_000_000, "backlog": 1})
    wait_for(lambda: client.call("QueryTest", run_id="completed")["completed"] == 1,
             "run 'completed'")
    wait_for(lambda: client.call("QueryTest", run_id="running")["counts"]["halted"] == 3,
             "three halted instances")
    wait_for(lambda: client.call("QueryTest", run_id="failed")["status"] == "failed",
             "run 'failed'")
    wait_for(lambda: client.call("QueryTest", run_id="planned-none")["completed"] == 1,
             "run 'planned-none'")
    # (A cancelled run is discarded by its CancelTest: test_a_discarded_run_leaves_no_series.)
    return {"running": "running", "paused": "paused", "completed": "completed",
            "failed": "failed", "planned-none": "completed", "planned-ten-million": "running"}


def find_version(samples):
    return samples["testrund_build_info"][0].labels["version"]


def samples_by_name(families):
    out = {}
    for family in families:
        for sample in family.samples:
            out.setdefault(sample.name, []).append(sample)
    return out


def find(samples, name, **labels):
    found = [s for s in samples.get(name, [])
             if all(s.labels.get(k) == v for k, v in labels.items())]
    if len(found) != 1:
        raise AssertionError(f"{name}{labels}: {len(found)} samples")
    return found[0].value


class MetricsFormatsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.daemon = DaemonProcess({"token": [f"{OPERATOR}:operator", f"{OBSERVER}:observer"],
                                    "completed_run_retention": 600})
        cls.client = Client(cls.daemon.port, OPERATOR)
        cls.statuses = start_runs(cls.client)

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop_clean()  # a sanitizer finding fails the suite

    def test_promtool_accepts_the_text_format(self):
        content_type, text = self.client.metrics()
        self.assertEqual(content_type, TEXT_004)
        check = subprocess.run(["promtool", "check", "metrics"], input=text, text=True,
                               capture_output=True)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        self.assertEqual(check.stdout + check.stderr, "")

    def test_both_parsers_read_every_family_with_the_values_of_query_test(self):
        _, text = self.client.metrics()
        content_type, om = self.client.metrics(OPENMETRICS)
        self.assertEqual(content_type, OPENMETRICS)
        self.assertTrue(om.endswith("# EOF\n"))
        for parsed in (list(text_parser.text_string_to_metric_families(text)),
                       list(openmetrics_parser.text_string_to_metric_families(om))):
            names = [f.name for f in parsed]
            self.assertEqual(len(names), len(set(names)), "a family appears twice")
            samples = samples_by_name(parsed)
            for run_id, status in self.statuses.items():
                with self.subTest(run_id=run_id):
                    self.check_run(samples, run_id, status)
            self.check_reasons(samples)

    def check_run(self, samples, run_id, status):
        result = self.client.call("QueryTest", run_id=run_id)
        counts = result["counts"]
        for name in ("started", "finished", "passed", "failed", "aborted", "cancelled", "late"):
            self.assertEqual(find(samples, f"testrund_run_instances_{name}_total", run_id=run_id),
                             counts[name], name)
        for name in ("running", "halted"):
            self.assertEqual(find(samples, f"testrund_run_instances_{name}", run_id=run_id),
                             counts[name], name)
        for s in ("running", "paused", "completed", "cancelled", "failed"):
            self.assertEqual(find(samples, "testrund_run_status", run_id=run_id, status=s),
                             1 if s == status else 0)
        planned = {"planned-none": 0, "planned-ten-million": 10_000_000, "running": 3,
                   "completed": 12}
        if run_id in planned:
            self.assertEqual(find(samples, "testrund_run_instances_planned", run_id=run_id),
                             planned[run_id])
        for entry in result.get("latency", []):
            op = str(entry["op_idx"])
            self.assertEqual(find(samples, "testrund_op_latency_seconds_count", run_id=run_id,
                                  op_idx=op), entry["count"])
            self.assertEqual(find(samples, "testrund_op_latency_seconds_bucket", run_id=run_id,
                                  op_idx=op, le="+Inf"), entry["count"])

    def check_reasons(self, samples):
        result = self.client.call("QueryTest", run_id="completed")
        aborts = result["first_aborts"]
        self.assertEqual([a["text"] for a in aborts], [AWKWARD])
        self.assertEqual(find(samples, "testrund_run_first_aborts_total", run_id="completed",
                              op_idx="2", reason=AWKWARD), aborts[0]["count"])
        fails = result["first_fails"]
        self.assertEqual(find(samples, "testrund_run_first_fails_total", run_id="completed",
                              op_idx="1", reason=fails[0]["text"]), fails[0]["count"])

    def test_latency_buckets_are_cumulative_and_exact(self):
        _, text = self.client.metrics()
        samples = samples_by_name(text_parser.text_string_to_metric_families(text))
        buckets = [s for s in samples["testrund_op_latency_seconds_bucket"]
                   if s.labels["run_id"] == "completed" and s.labels["op_idx"] == "0"]
        self.assertEqual(len(buckets), 90)  # 4 per octave over 22 octaves, +1, +Inf
        values = [b.value for b in buckets]
        self.assertEqual(values, sorted(values))
        # Every wait of 2 ms took at least 2 ms: nothing below the edge before 2 ms.
        below_2ms = [b.value for b in buckets
                     if b.labels["le"] != "+Inf" and float(b.labels["le"]) < 0.002]
        self.assertEqual(max(below_2ms), 0)

    def test_the_daemon_families(self):
        _, text = self.client.metrics()
        samples = samples_by_name(text_parser.text_string_to_metric_families(text))
        self.assertGreater(find(samples, "process_resident_memory_bytes"), 1 << 20)
        self.assertGreater(find(samples, "process_open_fds"), 3)
        self.assertGreater(find(samples, "process_start_time_seconds"), 1.6e9)
        self.assertGreaterEqual(find(samples, "testrund_rpc_calls_total", method="QueryTest",
                                     code="0"), 1)
        self.assertEqual(find(samples, "testrund_runs", status="failed"), 1)
        self.assertGreaterEqual(find(samples, "testrund_connections_open"), 1)
        self.assertGreater(find(samples, "testrund_event_loop_lag_seconds_count"), 0)
        self.assertEqual(find(samples, "testrund_build_info", version=find_version(samples)), 1)

    def test_authentication_and_methods(self):
        status, _, body = self.client.get("/metrics", token="wrong")
        self.assertEqual(status, 401)
        self.assertIn("-32010", body)
        conn = http.client.HTTPConnection("127.0.0.1", self.daemon.port, timeout=10)
        conn.request("GET", "/metrics")
        self.assertEqual(conn.getresponse().status, 401)
        conn.close()
        status, _, _ = self.client.get("/metrics", token=OBSERVER)
        self.assertEqual(status, 200)
        status, _, _ = self.client.get("/metrics", method="POST")
        self.assertEqual(status, 405)
        # Nothing else was disturbed: the runs still answer.
        self.assertEqual(self.client.call("QueryTest", run_id="running")["counts"]["halted"], 3)

    def test_content_negotiation(self):
        for accept, expected in (("application/openmetrics-text", OPENMETRICS),
                                 ("Application/OpenMetrics-Text;version=0.0.1", OPENMETRICS),
                                 ("text/plain", TEXT_004), ("*/*", TEXT_004),
                                 ("application/json", TEXT_004)):
            with self.subTest(accept=accept):
                content_type, _ = self.client.metrics(accept)
                self.assertEqual(content_type, expected)

    def test_a_discarded_run_leaves_no_series(self):
        self.client.call("ExecuteTest", run_id="short-lived",
                         operations=[{"type": "comment"}])
        wait_for(lambda: self.client.call("QueryTest", run_id="short-lived")["completed"] == 1,
                 "short-lived to complete")
        _, text = self.client.metrics()
        self.assertIn('run_id="short-lived"', text)
        self.client.call("CancelTest", run_id="short-lived")  # discards a completed run
        _, text = self.client.metrics()
        self.assertNotIn('run_id="short-lived"', text)


class PrometheusScrapeTest(unittest.TestCase):
    """A real Prometheus scrapes the daemon; PromQL sees the run as QueryTest does."""

    RUN = "scraped"
    INSTANCES = 200

    @classmethod
    def setUpClass(cls):
        cls.daemon = DaemonProcess({"token": [f"{OBSERVER}:observer", f"{OPERATOR}:operator"],
                                    "completed_run_retention": 600})
        cls.client = Client(cls.daemon.port, OPERATOR)
        cls.tmp = tempfile.mkdtemp(prefix="testrund_prometheus_")
        cls.web_port = free_port()
        config = os.path.join(cls.tmp, "prometheus.yml")
        with open(config, "w", encoding="utf-8") as f:
            f.write(f"""global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: testrund
    authorization:
      credentials: {OBSERVER}
    static_configs:
      - targets: ["127.0.0.1:{cls.daemon.port}"]
""")
        cls.prometheus = ChildProcess(
            ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={cls.tmp}/data",
             f"--web.listen-address=127.0.0.1:{cls.web_port}"],
            "Server is ready to receive web requests", what="prometheus", start_timeout=60)
        wait_for(lambda: cls.query_ok("up"), "prometheus to answer", timeout=60)

    @classmethod
    def tearDownClass(cls):
        cls.prometheus.stop()
        cls.daemon.stop_clean()  # a sanitizer finding fails the suite
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def query(cls, promql):
        conn = http.client.HTTPConnection("127.0.0.1", cls.web_port, timeout=10)
        conn.request("GET", "/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
        reply = json.loads(conn.getresponse().read())
        conn.close()
        if reply.get("status") != "success":
            raise AssertionError(f"{promql}: {reply}")
        return reply["data"]["result"]

    @classmethod
    def query_ok(cls, promql):
        try:
            return cls.query(promql)
        except (OSError, AssertionError, ValueError):
            return None

    def scalar(self, promql):
        result = self.query(promql)
        return float(result[0]["value"][1]) if result else None

    def test_promql_sees_the_run(self):
        wait_for(lambda: self.scalar('up{job="testrund"}') == 1, "the first good scrape")
        # Waits of 1 to 10 ms (one tenth each); the slowest tenth is 10 ms.
        self.client.call(
            "ExecuteTest", run_id=self.RUN,
            operations=[{"type": "wait", "arguments": {"seconds": "{(instance % 10 + 1) / 1000}"}},
                        {"type": "assert", "expression": "instance % 4 ~= 0"}],
            distribution={"type": "linear", "rate": 100, "total": self.INSTANCES,
                          "backlog": 50})
        result = wait_for(lambda: (r := self.client.call("QueryTest", run_id=self.RUN))
                          ["completed"] == 1 and r, "the run to complete")
        counts = result["counts"]
        selector = f'run_id="{self.RUN}"'
        finished = f"testrund_run_instances_finished_total{{{selector}}}"
        wait_for(lambda: self.scalar(finished) == self.INSTANCES,
                 "Prometheus to scrape the finished run")
        self.assertEqual(self.scalar(f"testrund_run_instances_failed_total{{{selector}}}"),
                         counts["failed"])
        self.assertEqual(counts["failed"], self.INSTANCES // 4)
        # increase() over a window holding the whole run, from before its first sample.
        started = self.scalar(f"max_over_time(testrund_run_instances_started_total"
                              f"{{{selector}}}[5m])")
        self.assertEqual(started, self.INSTANCES)
        p99 = self.scalar(f"histogram_quantile(0.99, testrund_op_latency_seconds_bucket"
                          f"{{{selector},op_idx=\"0\"}})")
        exact = next(e for e in result["latency"] if e["op_idx"] == 0)["p99"]
        self.assertGreaterEqual(exact, 0.010)
        self.assertLessEqual(abs(p99 - exact) / exact, BUCKET_ERROR, f"p99 {p99} vs {exact}")
        lag = self.scalar("histogram_quantile(0.5, testrund_event_loop_lag_seconds_bucket)")
        self.assertIsNotNone(lag)


if __name__ == "__main__":
    unittest.main(verbosity=2)
