#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The operator page's endpoints over raw HTTP against the real daemon (docs/ui.md):

- GET /ui/ and its files: content types, the security headers, ETag revalidation (304),
  the redirect of /ui, 404 and 405, and Chart.js served byte for byte as Debian ships it.
- GET /ui/events: tokens (none, wrong, observer, operator), an unknown run (404), an empty
  run_id (400), Last-Event-ID (the missed points only; a malformed or foreign id gets a
  snapshot), the end event when the run is discarded, and a client that stops reading
  being closed once the unsent buffer is full, while another client's stream goes on.

Standard library only (the browser test is ui_test.py).
"""

import http.client
import json
import socket
import time
import unittest

from daemon_process import DaemonProcess
from polling import wait_for

OPERATOR = "ui-operator-token"
OBSERVER = "ui-observer-token"
CHART_JS = "/usr/share/javascript/chart.js/chart.min.js"
CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'"


class EventStream:
    """A GET /ui/events response read event by event."""

    def __init__(self, port, path, token=OPERATOR, last_event_id=None):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        self.conn.request("GET", path, headers=headers)
        self.response = self.conn.getresponse()
        self.status = self.response.status

    def next(self):
        """{"event", "id", "data"} of the next event; None at the end of the stream."""
        event = {"event": None, "id": None, "data": None}
        while True:
            line = self.response.fp.readline()
            if not line:
                return None
            line = line.decode("utf-8").rstrip("\n")
            if not line:
                return event
            field, _, value = line.partition(": ")
            event[field] = json.loads(value) if field == "data" else value

    def close(self):
        self.conn.close()


class UiEndpointsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.daemon = DaemonProcess({"token": [f"{OPERATOR}:operator", f"{OBSERVER}:observer"],
                                    "log_level": "debug"})
        cls.port = cls.daemon.port

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop_clean()  # a sanitizer finding fails the suite

    def request(self, method, path, headers=None, body=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        conn.close()
        return response, data

    def call(self, method, **params):
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        response, data = self.request("POST", "/", {"Authorization": f"Bearer {OPERATOR}"},
                                      body)
        reply = json.loads(data)
        if "error" in reply:
            raise AssertionError(f"{method}: {reply['error']}")
        return reply["result"]

    def start_paced(self, run_id, rate=20):
        self.call("ExecuteTest", run_id=run_id,
                  operations=[{"type": "wait", "arguments": {"seconds": 0.01}}],
                  distribution={"type": "linear", "rate": rate, "duration": 600})

    # --- the files ----------------------------------------------------------------------

    def test_index_and_files_carry_the_security_headers(self):
        response, body = self.request("GET", "/ui/")
        self.assertEqual(response.status, 200)
        self.assertEqual(response.getheader("Content-Type"), "text/html; charset=utf-8")
        self.assertEqual(response.getheader("Content-Security-Policy"), CSP)
        self.assertEqual(response.getheader("X-Content-Type-Options"), "nosniff")
        self.assertEqual(response.getheader("Referrer-Policy"), "no-referrer")
        self.assertEqual(response.getheader("Cache-Control"), "no-cache")
        self.assertIn(b"<html", body)
        self.assertNotIn(b"<script>", body, "no inline script")
        same, again = self.request("GET", "/ui/index.html")
        self.assertEqual(again, body)
        self.assertEqual(same.getheader("ETag"), response.getheader("ETag"))
        response, _ = self.request("GET", "/ui/app.js")
        self.assertEqual(response.getheader("Content-Type"), "text/javascript; charset=utf-8")
        self.assertEqual(response.getheader("Content-Security-Policy"), CSP)
        response, _ = self.request("GET", "/ui/style.css")
        self.assertEqual(response.getheader("Content-Type"), "text/css; charset=utf-8")

    def test_chart_js_is_debians_file(self):
        response, body = self.request("GET", "/ui/vendor/chart.min.js")
        self.assertEqual(response.status, 200)
        with open(CHART_JS, "rb") as f:
            self.assertEqual(body, f.read())

    def test_etag_revalidation_answers_304(self):
        response, _ = self.request("GET", "/ui/app.js")
        etag = response.getheader("ETag")
        self.assertRegex(etag, r'^"[0-9a-f]{16}"$')
        response, body = self.request("GET", "/ui/app.js", {"If-None-Match": etag})
        self.assertEqual(response.status, 304)
        self.assertEqual(body, b"")
        response, body = self.request("GET", "/ui/app.js", {"If-None-Match": '"other"'})
        self.assertEqual(response.status, 200)
        self.assertGreater(len(body), 0)

    def test_redirect_not_found_and_wrong_method(self):
        response, _ = self.request("GET", "/ui")
        self.assertEqual(response.status, 308)
        self.assertEqual(response.getheader("Location"), "/ui/")
        for path in ("/ui/nosuch.js", "/ui/../daemon.cpp", "/ui/vendor/", "/ui/index.html/"):
            response, body = self.request("GET", path)
            self.assertEqual(response.status, 404, path)
            self.assertEqual(json.loads(body), {"error": "not found"})
        for method in ("POST", "PUT", "DELETE"):
            response, body = self.request(method, "/ui/", body=b"x")
            self.assertEqual(response.status, 405, method)
            self.assertEqual(response.getheader("Allow"), "GET")
            response, _ = self.request(method, "/ui/events", body=b"x")
            self.assertEqual(response.status, 405, method)

    # --- the event streams ------------------------------------------------------------------

    def test_events_need_a_token_of_either_role(self):
        stream = EventStream(self.port, "/ui/events", token=None)
        self.assertEqual(stream.status, 401)
        self.assertEqual(stream.response.getheader("WWW-Authenticate"), "Bearer")
        body = json.loads(stream.response.read())
        self.assertEqual(body["error"]["code"], -32010)
        stream.close()
        stream = EventStream(self.port, "/ui/events", token="wrong")
        self.assertEqual(stream.status, 401)
        self.assertEqual(json.loads(stream.response.read())["error"]["message"],
                         "Authentication failed: token invalid")
        stream.close()
        for token in (OBSERVER, OPERATOR):
            stream = EventStream(self.port, "/ui/events", token=token)
            self.assertEqual(stream.status, 200)
            self.assertEqual(stream.response.getheader("Content-Type"), "text/event-stream")
            event = stream.next()
            self.assertEqual(event["event"], "runs")
            self.assertIn("server", event["data"])
            stream.close()

    def test_runs_stream_lists_runs_each_interval(self):
        self.start_paced("listed")
        stream = EventStream(self.port, "/ui/events")
        first = stream.next()
        second = stream.next()
        self.assertEqual(int(second["id"]), int(first["id"]) + 1)
        runs = {run["run_id"]: run for run in second["data"]["runs"]}
        self.assertIn("listed", runs)
        listed = runs["listed"]
        self.assertEqual(listed["status"], "running")
        self.assertGreater(listed["counts"]["started"], 0)
        self.assertIn("percent_complete", listed)
        self.assertIn("start_rate", listed)
        server = second["data"]["server"]
        self.assertGreaterEqual(server["runs"], 1)
        self.assertGreaterEqual(server["connections"], 1)
        stream.close()
        self.call("CancelTest", run_id="listed")

    def test_unknown_run_and_empty_run_id(self):
        stream = EventStream(self.port, "/ui/events?run_id=nosuch%22")
        self.assertEqual(stream.status, 404)
        self.assertEqual(json.loads(stream.response.read()),
                         {"error": 'unknown run_id "nosuch\\"" '
                                   '(never existed, discarded, or cancelled)'})
        stream.close()
        stream = EventStream(self.port, "/ui/events?run_id=")
        self.assertEqual(stream.status, 400)
        self.assertEqual(json.loads(stream.response.read()), {"error": "run_id is empty"})
        stream.close()

    def test_last_event_id_gets_the_missed_points_only(self):
        self.start_paced("resumed")
        stream = EventStream(self.port, "/ui/events?run_id=resumed")
        snapshot = stream.next()
        self.assertEqual(snapshot["event"], "snapshot")
        seen = [p["id"] for p in snapshot["data"]["points"]]
        while len(seen) < 3:
            event = stream.next()
            self.assertEqual(event["event"], "delta")
            seen += [p["id"] for p in event["data"]["points"]]
            self.assertEqual(int(event["id"]), seen[-1])
        stream.close()
        self.assertEqual(seen, list(range(1, len(seen) + 1)))
        time.sleep(2.2)  # two intervals missed
        again = EventStream(self.port, "/ui/events?run_id=resumed", last_event_id=str(seen[-1]))
        event = again.next()
        self.assertEqual(event["event"], "delta")
        missed = [p["id"] for p in event["data"]["points"]]
        self.assertGreaterEqual(len(missed), 2)
        self.assertEqual(missed, list(range(seen[-1] + 1, seen[-1] + 1 + len(missed))))
        self.assertEqual(event["data"]["run"]["run_id"], "resumed")
        again.close()
        for bad in ("abc", "-1", "1e3", "99999999999999999999999", "", "999999"):
            stream = EventStream(self.port, "/ui/events?run_id=resumed", last_event_id=bad)
            event = stream.next()
            self.assertEqual(event["event"], "snapshot", f"Last-Event-ID {bad!r}")
            self.assertEqual(event["data"]["points"][0]["id"], 1)
            stream.close()
        self.call("CancelTest", run_id="resumed")

    def test_stream_ends_when_the_run_is_discarded(self):
        self.start_paced("ending")
        stream = EventStream(self.port, "/ui/events?run_id=ending", token=OBSERVER)
        self.assertEqual(stream.next()["event"], "snapshot")
        self.call("CancelTest", run_id="ending")
        events = []
        while (event := stream.next()) is not None:
            events.append(event)
        self.assertEqual(events[-1]["event"], "end")
        self.assertEqual(events[-1]["data"], {"run_id": "ending"})
        stream.close()

    def test_a_client_that_stops_reading_is_closed(self):
        # Each event carries the run's globals: about 1 MB here, so the 1 MiB of unsent
        # events a stream may hold fills within a few intervals.
        self.call("ExecuteTest", run_id="bulky",
                  operations=[{"type": "eval", "expression": "g.big = string.rep('x', 1000000)"},
                              {"type": "halt", "arguments": {"seconds": 600}}])
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(("127.0.0.1", self.port))
        stalled.sendall(f"GET /ui/events?run_id=bulky HTTP/1.1\r\nHost: x\r\n"
                        f"Authorization: Bearer {OPERATOR}\r\n\r\n".encode())
        reader = EventStream(self.port, "/ui/events?run_id=bulky")
        self.assertEqual(reader.next()["event"], "snapshot")
        wait_for(lambda: "event stream closed: the client is not reading" in
                 self.daemon_log(), "the stalled stream to be closed", timeout=60)
        # The stalled socket gets the end of its stream once it reads again.
        stalled.settimeout(10)
        received = 0
        while chunk := stalled.recv(1 << 20):
            received += len(chunk)
        stalled.close()
        self.assertGreater(received, 0)
        # The client that reads is not disturbed.
        self.assertEqual(reader.next()["event"], "delta")
        reader.close()
        self.call("CancelTest", run_id="bulky")

    def daemon_log(self):
        return self.daemon.child.output()


if __name__ == "__main__":
    unittest.main(verbosity=2)
