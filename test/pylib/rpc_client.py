# SPDX-License-Identifier: Apache-2.0
"""A JSON-RPC 2.0 client of one daemon's plain HTTP port, for the Python test suites: calls,
the -32602 problems of a refused ExecuteTest, and waiting for a run to complete. Python 3
standard library only."""

import http.client
import json

from polling import wait_for


class Rpc:
    def __init__(self, port):
        self.port = port

    def send(self, method, params):
        """The response object of one call (a new connection each time)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
            conn.request("POST", "/", body, {"Content-Type": "application/json"})
            return json.loads(conn.getresponse().read())
        finally:
            conn.close()

    def call(self, method, **params):
        """The call's result; an AssertionError naming the method when it was an error."""
        reply = self.send(method, params)
        if "error" in reply:
            raise AssertionError(f"{method}: {reply['error']}")
        return reply["result"]

    def problems(self, **params):
        """The -32602 data of an ExecuteTest that must be refused: [(field, problem)]."""
        reply = self.send("ExecuteTest", params)
        if "error" not in reply:
            raise AssertionError(f"accepted: {params}")
        assert reply["error"]["code"] == -32602, reply
        return [(p["field"], p["problem"]) for p in reply["error"]["data"]]

    def completed(self, run_id, timeout=120):
        """QueryTest's result once the run has completed."""
        return wait_for(lambda: (lambda q: q if q["completed"] else None)(
            self.call("QueryTest", run_id=run_id)), f"run {run_id} to complete", timeout, 0.2)
