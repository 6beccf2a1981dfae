# SPDX-License-Identifier: Apache-2.0
"""A child process whose output is read line by line by a thread, for tests and tools.

The reader drains the stream for the child's whole life (so that a chatty child never blocks
on a full pipe), keeps every line, and lets the constructor wait until `ready_count` lines
have matched the `ready` regex — e.g. a daemon's `listening on ...` lines. Python 3
standard library only.
"""

import re
import subprocess
import threading


class ChildProcess:
    """Starts `args` and waits (up to `start_timeout` seconds) until `ready_count` lines of
    its `stream` ("stderr" or "stdout") have matched `ready`. `matches` keeps those matches
    in order; `lines` keeps every line. Raises RuntimeError (with the output) when the child
    exits or times out before that."""

    def __init__(self, args, ready, ready_count=1, stream="stderr", what="process", cwd=None,
                 env=None, start_timeout=30):
        self.what = what
        self.lines = []
        self.matches = []
        self._ready = re.compile(ready)
        self._ready_count = ready_count
        self._seen = threading.Event()
        pipes = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        pipes[stream] = subprocess.PIPE
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, text=True, cwd=cwd,
                                     env=env, errors="replace", **pipes)
        self._stream = getattr(self.proc, stream)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._seen.wait(start_timeout) or len(self.matches) < ready_count:
            self.stop()
            raise RuntimeError(f"{what} did not start:\n" + self.output())

    @property
    def match(self):
        """The first ready match."""
        return self.matches[0]

    @property
    def pid(self):
        return self.proc.pid

    def running(self):
        return self.proc.poll() is None

    def output(self):
        """Everything the child wrote to its stream so far."""
        return "".join(self.lines)

    def _read(self):
        for line in self._stream:
            self.lines.append(line)
            if len(self.matches) < self._ready_count:
                m = self._ready.search(line)
                if m:
                    self.matches.append(m)
                    if len(self.matches) == self._ready_count:
                        self._seen.set()
        self._seen.set()  # exited: let the waiter see that

    def stop(self, timeout=10):
        """SIGTERM, then SIGKILL after `timeout` seconds; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(5)
        self._stream.close()
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
