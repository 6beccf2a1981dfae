# SPDX-License-Identifier: Apache-2.0
"""The real testrund binary as a child process, for the Python test suites and tools.

Writes a configuration file (`listen = 127.0.0.1:0` plus the options given) into a private
temporary directory, starts `testrund --config FILE [flags]`, waits for its
`listening on 127.0.0.1:PORT (plain|tls)` lines and keeps the bound ports; stop() sends
SIGTERM and removes the directory. The binary is $TESTRUND_BINARY (meson sets it), else
build/daemon/testrund of the source tree. Python 3 standard library only.
"""

import os
import shutil
import tempfile

from child_process import ChildProcess

SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LISTENING = r"listening on 127\.0\.0\.1:(\d+) \((plain|tls)\)"


def default_binary():
    return os.environ.get("TESTRUND_BINARY",
                          os.path.join(SOURCE_ROOT, "build", "daemon", "testrund"))


def config_text(options):
    """`key = value` lines; a list value repeats its key (listen, tls_listen, token)."""
    lines = []
    for key, value in options.items():
        for one in value if isinstance(value, (list, tuple)) else [value]:
            lines.append(f"{key} = {one}\n")
    return "".join(lines)


class DaemonProcess:
    """A testrund on 127.0.0.1 port 0 (and a TLS listener when `options` has tls_listen,
    e.g. "127.0.0.1:0"). `options` are configuration keys (docs/configuration.md), written
    to the config file; `flags` are extra command-line arguments.

    After construction: `port` (plain), `tls_port` (or None), `url` (http://), `address`
    ("127.0.0.1:PORT", for framed clients), `pid`, `config_path`."""

    def __init__(self, options=None, flags=(), binary=None, start_timeout=30):
        merged = {"listen": "127.0.0.1:0"}
        merged.update(options or {})
        listeners = sum(len(v) if isinstance(v, (list, tuple)) else int(bool(v))
                        for k, v in merged.items() if k in ("listen", "tls_listen"))
        self.tmp = tempfile.mkdtemp(prefix="testrund_")
        self.config_path = os.path.join(self.tmp, "testrund.conf")
        with open(self.config_path, "w", encoding="utf-8") as f:
            f.write(config_text(merged))
        try:
            self.child = ChildProcess([binary or default_binary(), "--config", self.config_path,
                                       *flags], LISTENING, ready_count=listeners,
                                      what="testrund", start_timeout=start_timeout)
        except BaseException:
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise
        ports = {}
        for m in self.child.matches:
            ports.setdefault(m.group(2), int(m.group(1)))
        self.port = ports.get("plain")
        self.tls_port = ports.get("tls")
        self.url = f"http://127.0.0.1:{self.port}" if self.port else None
        self.address = f"127.0.0.1:{self.port}" if self.port else None

    @property
    def pid(self):
        return self.child.pid

    def running(self):
        return self.child.running()

    @property
    def returncode(self):
        """The exit status once the daemon has exited, else None."""
        return self.child.proc.poll()

    def log(self):
        """Everything the daemon logged so far."""
        return self.child.output()

    def rss_kib(self):
        """The daemon's resident set size (VmRSS) in KiB, read from /proc."""
        return read_rss_kib(self.pid)

    def stop(self, timeout=10):
        """SIGTERM (SIGKILL after `timeout` s); returns the exit status."""
        try:
            return self.child.stop(timeout)
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def stop_clean(self, timeout=10):
        """stop(), then raises AssertionError (with the log) unless the daemon exited 0: a
        crash, a hang, or in the sanitize build (where a report or a leak makes the status
        non-zero) a sanitizer finding fails the tests that used it."""
        status = self.stop(timeout)
        if status != 0:
            raise AssertionError(f"testrund exited with status {status}:\n" + self.log())
        return status

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def read_rss_kib(pid):
    """VmRSS of process `pid` in KiB (Linux /proc/<pid>/status)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS in /proc/{pid}/status")
