# SPDX-License-Identifier: Apache-2.0
"""JSON-RPC 2.0 over HTTP to a daemon, for the Python test suites: one call's response
object, or its result (an AssertionError naming the method and the error otherwise). Python 3
standard library only."""

import json
import urllib.request


def call(url, method, params=None, timeout=10):
    """The JSON-RPC response object of one call over HTTP."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method,
                       "params": params or {}}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as r:
        return json.loads(r.read())


def result(url, method, params=None):
    """The call's result; an AssertionError when the daemon answered an error."""
    response = call(url, method, params)
    if "error" in response:
        raise AssertionError(f"{method} {params}: {response['error']}")
    return response["result"]
