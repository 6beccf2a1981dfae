# SPDX-License-Identifier: Apache-2.0
"""Small helpers the Python test suites share: waiting for a condition, a free port.
Python 3 standard library only."""

import socket
import time


def wait_for(predicate, what, timeout=30.0, interval=0.05):
    """predicate()'s first true value, polled every `interval` s; AssertionError naming
    `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


def free_port():
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
