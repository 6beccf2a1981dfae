# SPDX-License-Identifier: Apache-2.0
"""testrun: command-line client and small client module for testrund (docs/api.md, docs/cli.md).

Standard library only. `scripts/testrun` is the executable; this file is the module, so a
harness script can drive the daemon without a subprocess:

    import sys; sys.path.insert(0, "/path/to/testrund/scripts")
    import testrun

    client = testrun.Client("http://127.0.0.1:9009", token="SECRET")
    run_id = client.call("ExecuteTest", operations=[...], distribution={...})["run_id"]
    final = client.wait(run_id, interval=0.5)          # the last QueryTest result
    code, reasons = testrun.verdict(final)             # the daemon's thresholds count

Everything a harness needs is: Client, TestrunError and its subclasses (RpcError,
Unreachable, BadResponse, RunVanished), verdict(), load_definition(), apply_overrides(),
parse_set(), parse_threshold() and main(argv) (the CLI, returning its exit status).
"""

import argparse
import contextlib
import http.client
import json
import math
import os
import re
import shutil
import socket
import ssl
import struct
import sys
import time
import urllib.parse

__all__ = [
    "Client", "TestrunError", "RpcError", "Unreachable", "BadResponse", "RunVanished",
    "verdict", "load_definition", "apply_overrides", "parse_set", "parse_threshold", "main",
    "DEFAULT_URL", "EXIT_CODES",
]

DEFAULT_URL = "http://127.0.0.1:9009"
DEFAULT_TIMEOUT = 30.0
# Largest framed response accepted (the daemon's default body limit is 16 MiB; a QueryTest
# result with a full trace_log stays well under this).
MAX_FRAMED_RESPONSE = 256 * 1024 * 1024

# Exit statuses, as data: the --help epilog and the manual are written from this table.
EXIT_PASSED = 0
EXIT_FAILED = 1
EXIT_ABORTED = 2
EXIT_CANCELLED = 3
EXIT_UNREACHABLE = 4
EXIT_RPC_ERROR = 5
EXIT_BAD_RESPONSE = 6
EXIT_USAGE = 64
EXIT_INTERRUPTED = 130
EXIT_CODES = [
    (EXIT_PASSED, "success; for watch: every instance passed (and every threshold held)"),
    (EXIT_FAILED, "watch: some instance failed a check, or a threshold was exceeded"),
    (EXIT_ABORTED, "watch: some instance aborted"),
    (EXIT_CANCELLED, "watch: the run was cancelled (or discarded by another client)"),
    (EXIT_UNREACHABLE, "could not reach the daemon (refused, timeout, TLS handshake failed)"),
    (EXIT_RPC_ERROR, "the daemon answered with a JSON-RPC error (printed with its code)"),
    (EXIT_BAD_RESPONSE, "the answer was not JSON-RPC (wrong URL or port? HTTP error status)"),
    (EXIT_USAGE, "bad command line, or unreadable / invalid definition file"),
    (EXIT_INTERRUPTED, "interrupted (Ctrl-C); the run itself carries on"),
]

# JSON-RPC error codes of docs/api.md#2-the-json-rpc-20-envelope, for the one-line error message.
ERROR_NAMES = {
    -32700: "parse error",
    -32600: "invalid request",
    -32601: "method not found",
    -32602: "invalid params",
    -32603: "internal error",
    -32001: "unknown run_id",
    -32002: "run_id already in use",
    -32003: "no such instance",
    -32004: "instance not halted",
    -32005: "server limit reached",
    -32006: "run state does not allow this",
    -32010: "authentication required",
    -32011: "role not allowed",
}


# --------------------------------------------------------------------------------------------
# Errors


class TestrunError(Exception):
    """Base of every error this module raises."""

    __test__ = False  # not a unittest/pytest test class, despite the name


class RpcError(TestrunError):
    """The daemon answered with a JSON-RPC error object."""

    def __init__(self, code, message, data=None, method=None):
        super().__init__(f"error {code}: {message}")
        self.code = code
        self.message = message
        self.data = data
        self.method = method  # the method that failed, when known

    @property
    def error(self):
        """The JSON-RPC error object, as the daemon sent it."""
        out = {"code": self.code, "message": self.message}
        if self.data is not None:
            out["data"] = self.data
        return out


class Unreachable(TestrunError, ConnectionError):
    """No answer from the daemon: refused, timed out, closed early, TLS handshake failed."""


def _one_line(text, limit=200):
    """`text` (str or bytes) with its white space folded, cut to `limit` characters, so that
    an HTML error page from something that is not testrund stays one line of an error."""
    if isinstance(text, (bytes, bytearray)):
        text = text.decode("utf-8", "replace")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


class BadResponse(TestrunError):
    """Something answered, but not with a JSON-RPC response (HTTP error status, not JSON)."""


class RunVanished(TestrunError):
    """A watched run disappeared (-32001) before it was seen completed: CancelTest discards a
    run, and so does another client's QueryTest of a completed run. `last` is the last status
    seen (may be None)."""

    def __init__(self, run_id, last):
        super().__init__(f'run "{run_id}" was cancelled or discarded by another client')
        self.run_id = run_id
        self.last = last


# --------------------------------------------------------------------------------------------
# Client


def _split_host_port(text, what):
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"{what} must be HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


class Client:
    """A connection to one testrund.

    url     -- http://HOST:PORT or https://HOST:PORT (path defaults to /); HTTP/1.1 keep-alive,
               one connection reused for every call. Token as `Authorization: Bearer`.
    framed  -- "HOST:PORT" (or "tls://HOST:PORT"): use the N2SVCD 4-byte length-prefixed
               framing instead of HTTP, one connection per request; the token goes in the
               request's top-level "auth" member. Overrides url.
    token   -- the bearer token (docs/api.md#1-transports), or None.
    cacert  -- CA file (PEM) that signed the daemon's certificate, for https:// and tls://.
               Without it the system's default CAs are used.
    timeout -- seconds for connecting and for each answer.

    Not thread-safe. Use as a context manager or call close().
    """

    def __init__(self, url=DEFAULT_URL, framed=None, token=None, cacert=None,
                 timeout=DEFAULT_TIMEOUT):
        self.token = token
        self.timeout = timeout
        self._next_id = 1
        self._conn = None
        self._ssl_context = None
        self.framed = None
        if framed:
            tls = framed.startswith("tls://")
            self.framed = _split_host_port(framed[6:] if tls else framed, "--framed")
            if tls:
                self._ssl_context = ssl.create_default_context(cafile=cacert)
            self.url = f"{'tls://' if tls else ''}{self.framed[0]}:{self.framed[1]}"
            return
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"--url must be http://HOST:PORT or https://HOST:PORT, got {url!r}")
        self.url = url
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._path = parts.path or "/"
        if parts.scheme == "https":
            self._ssl_context = ssl.create_default_context(cafile=cacert)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- calls -----------------------------------------------------------------------------

    def call(self, method, params=None, **kwargs):
        """Calls `method` with by-name params (a dict and/or keyword arguments) and returns its
        `result`. Raises RpcError, Unreachable or BadResponse."""
        merged = dict(params or {})
        merged.update(kwargs)
        response = self.request(method, merged)
        if "error" in response:
            err = response["error"]
            if not isinstance(err, dict):
                raise BadResponse(f"malformed error member: {err!r}")
            raise RpcError(err.get("code"), err.get("message", ""), err.get("data"), method)
        if "result" not in response:
            raise BadResponse(f"response has neither result nor error: {response!r}")
        return response["result"]

    def request(self, method, params):
        """Sends one request and returns the whole JSON-RPC response object (a dict)."""
        req_id = self._next_id
        self._next_id += 1
        req = {"jsonrpc": "2.0", "id": req_id, "method": method}
        if params:
            req["params"] = params
        if self.framed and self.token is not None:
            req["auth"] = self.token
        body = json.dumps(req).encode("utf-8")
        raw = self._send_framed(body) if self.framed else self._send_http(body)
        try:
            response = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as e:
            raise BadResponse(f"answer is not JSON ({e}): {_one_line(raw)!r}") from None
        if not isinstance(response, dict) or response.get("jsonrpc") != "2.0":
            raise BadResponse(f"answer is not a JSON-RPC 2.0 response: {_one_line(raw)!r}")
        return response

    # Convenience wrappers for the methods of docs/api.md#3-methods.
    def execute_test(self, definition, **overrides):
        params = dict(definition)
        params.update(overrides)
        return self.call("ExecuteTest", params)["run_id"]

    def query_test(self, run_id):
        return self.call("QueryTest", run_id=run_id)

    def cancel_test(self, run_id):
        return self.call("CancelTest", run_id=run_id)

    def restart_test(self, run_id):
        """RestartTest: {"run_id", "restarts", "previous": the replaced run's status}."""
        return self.call("RestartTest", run_id=run_id)

    def resume_instance(self, run_id, instance_id, vars=None):
        params = {"run_id": run_id, "instance_id": instance_id}
        if vars:
            params["vars"] = vars
        return self.call("ResumeInstance", params)

    def list_tests(self, status=None, tag=None):
        params = {k: v for k, v in (("status", status), ("tag", tag)) if v is not None}
        return self.call("ListTests", params)["runs"]

    def server_info(self):
        return self.call("GetServerInfo")

    def wait(self, run_id, interval=1.0, on_poll=None):
        """Polls QueryTest every `interval` seconds until the run is completed and returns that
        final result (the daemon discards the run once it returned it completed, so keep it).
        `on_poll(result)` is called with every in-progress result. Raises RunVanished when the
        run disappears after having been seen (cancelled by someone), RpcError -32001 when it
        is unknown from the start."""
        last = None
        while True:
            try:
                result = self.query_test(run_id)
            except RpcError as e:
                if e.code == -32001 and last is not None:
                    raise RunVanished(run_id, last) from None
                raise
            if result.get("completed") == 1:
                return result
            last = result
            if on_poll is not None:
                on_poll(result)
            time.sleep(interval)

    # -- transports ------------------------------------------------------------------------

    def _send_framed(self, body):
        host, port = self.framed
        try:
            sock = socket.create_connection((host, port), timeout=self.timeout)
        except OSError as e:
            raise Unreachable(f"cannot connect to {self.url}: {_reason(e)}") from None
        try:
            if self._ssl_context is not None:
                sock = self._ssl_context.wrap_socket(sock, server_hostname=host)
            sock.sendall(struct.pack("!I", len(body)) + body)
            (length,) = struct.unpack("!I", _recv_exact(sock, 4))
            if length == 0 or length > MAX_FRAMED_RESPONSE:
                raise BadResponse(f"bad length prefix {length} from {self.url}")
            return _recv_exact(sock, length)
        except (OSError, EOFError) as e:
            raise Unreachable(f"no answer from {self.url}: {_reason(e)}") from None
        finally:
            sock.close()

    def _connect_http(self):
        if self._scheme == "https":
            return http.client.HTTPSConnection(self._host, self._port, timeout=self.timeout,
                                               context=self._ssl_context)
        return http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)

    def _send_http(self, body):
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        # A reused keep-alive connection may have been closed by the daemon's idle timeout
        # while we were not looking; the request then never reached it, so send it once more
        # on a fresh connection. A fresh connection that fails is reported at once.
        for attempt in (0, 1):
            reused = self._conn is not None
            if not reused:
                self._conn = self._connect_http()
            try:
                self._conn.request("POST", self._path, body=body, headers=headers)
                resp = self._conn.getresponse()
                data = resp.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as e:
                self.close()
                if reused and attempt == 0:
                    continue
                raise Unreachable(f"no answer from {self.url}: {_reason(e)}") from None
            except (OSError, http.client.HTTPException) as e:
                self.close()
                raise Unreachable(f"cannot reach {self.url}: {_reason(e)}") from None
            if resp.will_close:
                self.close()
            break
        if resp.status == 200:
            return data
        if resp.status == 401 and data:
            return data  # the daemon sends a JSON-RPC -32010 error body with the 401
        if resp.status == 204:
            raise BadResponse(f"HTTP 204 from {self.url}: no response (notification?)")
        text = _one_line(data.decode("utf-8", "replace"))
        raise BadResponse(f"HTTP {resp.status} {resp.reason} from {self.url}: {text}")


def _recv_exact(sock, n):
    chunks = []
    while n > 0:
        chunk = sock.recv(min(n, 1 << 20))
        if not chunk:
            raise EOFError("connection closed before the whole response arrived")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _reason(e):
    if isinstance(e, socket.timeout):
        return "timed out"
    return getattr(e, "strerror", None) or str(e) or type(e).__name__


# --------------------------------------------------------------------------------------------
# Definitions and overrides


def load_definition(path):
    """Reads a definition file ("-" = stdin): a JSON object that is the ExecuteTest params, or
    a whole ExecuteTest JSON-RPC request (its `params` are used). Raises ValueError."""
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as f:
                text = f.read()
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e.strerror or e}") from None
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise ValueError(f"{path} is not valid JSON: {e}") from None
    if isinstance(doc, dict) and "method" in doc and isinstance(doc.get("params"), dict):
        doc = doc["params"]
    if not isinstance(doc, dict):
        raise ValueError(f"{path} must hold a JSON object (the ExecuteTest params)")
    return doc


def parse_set(text, prefixes=("v",)):
    """Parses `v.NAME=VALUE` (also `v.a.b=VALUE` for nested objects; `g.NAME=VALUE` where
    allowed) into (prefix, [path...], value). VALUE is JSON if it parses, else a string."""
    name, sep, raw = text.partition("=")
    prefix, dot, path = name.partition(".")
    keys = path.split(".") if dot else []
    if not sep or prefix not in prefixes or not keys or not all(keys):
        allowed = " or ".join(f"{p}.NAME=VALUE" for p in prefixes)
        raise ValueError(f"--set wants {allowed}, got {text!r}")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    return prefix, keys, value


THRESHOLD_FORM = ("METRIC[OP]<BOUND or METRIC>BOUND, then optionally :abort, :after=SECONDS "
                  "and :every=SECONDS (e.g. 'latency_p99[3]<0.25', "
                  "'failed_ratio<0.01:abort:after=10')")
_THRESHOLD_RE = re.compile(r"\s*(?P<metric>[A-Za-z_][A-Za-z0-9_]*)\s*"
                           r"(?:\[\s*(?P<op>[0-9]+)\s*\])?\s*"
                           r"(?P<cmp><=?|>=?)\s*(?P<bound>[^:\s]+)\s*"
                           r"(?P<suffixes>(?::[^:]*)*)")


def _json_number(value):
    """A float that is a whole number as an int, so that the daemon echoes `2`, not `2.0`."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _threshold_number(text, what, expr):
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ValueError(f"--threshold {expr!r}: {what} {text.strip()!r} is not a number; "
                         f"expected {THRESHOLD_FORM}")
    return _json_number(value)


def parse_threshold(text):
    """Parses a --threshold expression into the daemon's threshold object (docs/api.md,
    Thresholds): `METRIC[OP]<BOUND` or `METRIC<BOUND` sets `max` (the value must be at most
    BOUND), `METRIC>BOUND` sets `min` (at least BOUND); `<=`/`>=` mean the same. Suffixes:
    `:abort` (`"abort": true`), `:after=SECONDS` (only with :abort), `:every=SECONDS`
    (`interval`). Only the form is checked here; the daemon checks the metric's name, the
    op and the bounds' ranges. Raises ValueError naming the expression and the form.

    parse_threshold("latency_p99[3]<0.25") == {"metric": "latency_p99", "op_idx": 3, "max": 0.25}
    """
    m = _THRESHOLD_RE.fullmatch(text)
    if not m:
        raise ValueError(f"--threshold {text!r}: expected {THRESHOLD_FORM}")
    threshold = {"metric": m.group("metric")}
    if m.group("op") is not None:
        threshold["op_idx"] = int(m.group("op"))
    bound = _threshold_number(m.group("bound"), "bound", text)
    threshold["max" if m.group("cmp").startswith("<") else "min"] = bound
    suffixes = m.group("suffixes").split(":")[1:]
    seen = set()
    for suffix in suffixes:
        name, sep, value = (part.strip() for part in suffix.partition("="))
        key = {"abort": "abort", "after": "after", "every": "interval"}.get(name)
        problem = None
        if key is None:
            problem = f"unknown suffix {':' + suffix.strip()!r}"
        elif key in seen:
            problem = f"{':' + name!r} is given twice"
        elif key == "abort" and sep:
            problem = "':abort' takes no value"
        elif key != "abort" and not sep:
            problem = f"{':' + name!r} needs =SECONDS"
        if problem:
            raise ValueError(f"--threshold {text!r}: {problem}; expected {THRESHOLD_FORM}")
        seen.add(key)
        threshold[key] = True if key == "abort" else _threshold_number(value, name, text)
    if "after" in threshold and not threshold.get("abort"):
        raise ValueError(f"--threshold {text!r}: :after= is the warm-up of an :abort "
                         f"threshold and needs :abort; expected {THRESHOLD_FORM}")
    return threshold


def _assign(target, keys, value):
    for key in keys[:-1]:
        if not isinstance(target.get(key), dict):
            target[key] = {}
        target = target[key]
    target[keys[-1]] = value


def apply_overrides(definition, run_id=None, total=None, rate=None, backlog=None,
                    duration=None, sets=(), tags=(), thresholds=(), data=None,
                    data_mode=None, start_at=None):
    """Returns a copy of the ExecuteTest params with command-line overrides applied.
    `--rate` makes a `single`/`load` distribution `linear`; `--total`/`--duration` make a
    `single` one `load`. `sets` are parse_set() triples ("v" -> vars, "g" -> globals).
    `thresholds` (daemon threshold objects, e.g. from parse_threshold()) are appended to the
    definition's own `thresholds`; ValueError if the definition's is not an array. `data`
    and `data_mode` replace the definition's (docs/api.md, Data rows), and so does `start_at`
    (Unix seconds)."""
    params = json.loads(json.dumps(definition))  # deep copy
    if run_id is not None:
        params["run_id"] = run_id
    if any(x is not None for x in (total, rate, backlog, duration)):
        dist = params.get("distribution")
        dist = dict(dist) if isinstance(dist, dict) else {"type": "single"}
        kind = dist.get("type", "single")
        if rate is not None:
            dist["rate"] = rate
            if kind in ("single", "load"):
                dist["type"] = "linear"
        elif kind == "single" and (total is not None or duration is not None):
            dist["type"] = "load"
        for key, value in (("total", total), ("backlog", backlog), ("duration", duration)):
            if value is not None:
                dist[key] = value
        params["distribution"] = dist
    for prefix, keys, value in sets:
        member = "vars" if prefix == "v" else "globals"
        if not isinstance(params.get(member), dict):
            params[member] = {}
        _assign(params[member], keys, value)
    if tags:
        params["tags"] = list(params.get("tags") or []) + list(tags)
    if thresholds:
        own = params.get("thresholds")
        if own is not None and not isinstance(own, list):
            raise ValueError("the definition's thresholds is not an array, so no threshold "
                             "can be added to it")
        params["thresholds"] = list(own or []) + [dict(t) for t in thresholds]
    if data is not None:
        params["data"] = data
    if data_mode is not None:
        params["data_mode"] = data_mode
    if start_at is not None:
        params["start_at"] = round(start_at, 6)
    return params


# --------------------------------------------------------------------------------------------
# Verdict


def _threshold_value(threshold):
    """A threshold's latest value as text: `value 0.0312`, or why it has none."""
    value = threshold.get("value")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"value {value:.6g}"
    if threshold.get("metric", "").startswith("latency_"):
        return "no samples"
    return "not checked yet"


# The daemon's status_reason for failed thresholds: "Threshold failed at the end: A (value
# x)." or "Thresholds failed after 3.0 s; the run was ended: A (value x); B (value y).",
# after max_failures' reason when that tripped too.
_THRESHOLD_STATUS_REASON = re.compile(
    r"\s*Thresholds? failed (?:at the end|after (?P<after>[0-9.]+) s; the run was ended):")


def _failed_run_reasons(status_reason, thresholds_failed):
    """The reasons a run the daemon ended as "failed" gives in the verdict. The failed
    thresholds give their own reason lines, so the part of status_reason that repeats them
    is left out (what is left: max_failures' reason, and when an abort threshold ended the
    run)."""
    text = status_reason or "run failed"
    m = _THRESHOLD_STATUS_REASON.search(text) if thresholds_failed else None
    if not m:
        return [text.rstrip(".")]
    reasons = []
    head = text[:m.start()].strip().rstrip(".")
    if head:
        reasons.append(head)
    if m.group("after"):
        reasons.append(f"a threshold ended the run after {m.group('after')} s")
    return reasons


def verdict(result, max_failed_ratio=None, max_p99=None, vanished=False):
    """The exit status for a final QueryTest result, and the reasons (list of str).

    3 when the run was cancelled (or vanished). Else the failed/aborted rule: 2 when any
    instance aborted, 1 when any failed, 0 otherwise -- unless a failed ratio replaces it:
    the run's own `failed_ratio` threshold(s) (from its definition, `testrun --threshold` or
    `execute --watch --max-failed-ratio`, checked by the daemon), or the client-side
    max_failed_ratio (0..1): failed+aborted up to that share of finished instances is
    tolerated (over it: 2 if any aborted, else 1).

    The daemon's thresholds (the result's `thresholds`) count: each with `ok` false makes
    the status at least 1 and adds a reason (`threshold failed: TEXT (value X)`). A run the
    daemon ended as "failed" (max_failures, or a failed threshold) is at least 1 (2 if any
    instance aborted), whatever a ratio tolerates.

    max_failed_ratio and max_p99 {op_idx: seconds} are judged here, on the client, for runs
    started without those thresholds (`testrun watch RUN_ID`): an op whose p99 latency is
    above its limit, or that has no latency samples, makes the status at least 1."""
    counts = result.get("counts", {})
    status = result.get("status")
    failed = counts.get("failed", 0)
    aborted = counts.get("aborted", 0)
    finished = counts.get("finished", 0)
    reasons = []
    if vanished or status == "cancelled" or "cancelled" in result and result["cancelled"] == 1:
        return EXIT_CANCELLED, ["run cancelled"]
    thresholds = [t for t in result.get("thresholds") or [] if isinstance(t, dict)]
    ratio_thresholds = [t for t in thresholds if t.get("metric") == "failed_ratio"]
    thresholds_failed = [t for t in thresholds if t.get("ok") is False]
    bad = failed + aborted
    code = EXIT_PASSED
    if max_failed_ratio is not None:
        ratio = bad / finished if finished else 0.0
        if ratio > max_failed_ratio:
            code = EXIT_ABORTED if aborted else EXIT_FAILED
            reasons.append(f"failed ratio {ratio:.4f} > {max_failed_ratio:g} "
                           f"({failed} failed, {aborted} aborted of {finished})")
        elif bad:
            reasons.append(f"failed ratio {ratio:.4f} <= {max_failed_ratio:g}: tolerated")
    elif ratio_thresholds:
        # The daemon judged the ratio: a failed one made the run "failed" (below).
        if bad and all(t.get("ok") for t in ratio_thresholds):
            reasons.append(f"{bad} of {finished} instance(s) failed or aborted, tolerated by "
                           + ", ".join(f"{t.get('text', 'failed_ratio')} "
                                       f"({_threshold_value(t)})" for t in ratio_thresholds))
    elif aborted:
        code = EXIT_ABORTED
        reasons.append(f"{aborted} instance(s) aborted")
    elif failed:
        code = EXIT_FAILED
        reasons.append(f"{failed} instance(s) failed")
    if status == "failed":
        # The daemon stopped the run (max_failures) or a threshold failed: never a pass,
        # whatever the ratio says.
        code = max(code, EXIT_ABORTED if aborted else EXIT_FAILED)
        reasons += _failed_run_reasons(result.get("status_reason"), bool(thresholds_failed))
    for t in thresholds_failed:
        code = max(code, EXIT_FAILED)
        reasons.append(f"threshold failed: {t.get('text', t.get('metric'))} "
                       f"({_threshold_value(t)})")
    latency = {entry.get("op_idx"): entry for entry in result.get("latency", [])}
    for op_idx, limit in sorted((max_p99 or {}).items()):
        entry = latency.get(op_idx)
        if entry is None:
            code = max(code, EXIT_FAILED)
            reasons.append(f"op {op_idx}: no latency samples to check p99 <= {limit:g}s")
        elif entry["p99"] > limit:
            code = max(code, EXIT_FAILED)
            reasons.append(f"op {op_idx}: p99 {entry['p99']:.6g}s > {limit:g}s")
        else:
            reasons.append(f"op {op_idx}: p99 {entry['p99']:.6g}s <= {limit:g}s")
    return code, reasons


# --------------------------------------------------------------------------------------------
# Output


def _t(stamp):
    """[sec, usec] -> float seconds."""
    return stamp[0] + stamp[1] / 1e6 if isinstance(stamp, list) and len(stamp) == 2 else None


def _clock(stamp):
    t = _t(stamp)
    if t is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) + f".{int(t % 1 * 1000):03d}"


def _hms(seconds):
    if seconds < 60:
        return f"{max(0.0, seconds):.1f}s"
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _table(rows, headers, out, indent=""):
    rows = [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    for row in [headers] + rows:
        print(indent + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip(), file=out)


COUNT_NAMES = ("started", "finished", "passed", "failed", "aborted", "cancelled", "halted",
               "running", "late")


def _counts_line(counts):
    return "  ".join(f"{name} {counts[name]}" for name in COUNT_NAMES if name in counts)


def print_summary(result, out, vanished=False):
    """The human summary of a QueryTest/CancelTest result."""
    status = result.get("status") or ("completed" if result.get("completed") else "running")
    head = f"run {result.get('run_id')}: {status}"
    if vanished:
        head += " (cancelled or discarded by another client; last status seen below)"
    if result.get("duration") is not None:
        head += f" in {result['duration']:.3f}s"
    elif _t(result.get("time_now")) and _t(result.get("time_start")):
        head += f", running for {_t(result['time_now']) - _t(result['time_start']):.1f}s"
    print(head, file=out)
    if result.get("status_reason"):
        print(f"  reason: {result['status_reason']}", file=out)
    if "cancelled" in result:
        print("  cancelled: " + ("yes, it was in progress" if result["cancelled"] == 1
                                 else "no, it had already completed"), file=out)
    print(f"  started {_clock(result.get('time_start'))}"
          + (f", finished {_clock(result['time_finish'])}" if "time_finish" in result else ""),
          file=out)
    if result.get("tags"):
        print(f"  tags: {', '.join(result['tags'])}", file=out)
    print(f"counts: {_counts_line(result.get('counts', {}))}", file=out)
    if "percent_complete" in result and not result.get("completed"):
        print(f"progress: {result['percent_complete']:.1f}% started", file=out)
    if result.get("globals"):
        print(f"globals: {json.dumps(result['globals'], sort_keys=True)}", file=out)
    for key, title in (("first_fails", "first fails"), ("first_aborts", "first aborts")):
        entries = result.get(key) or []
        if entries:
            print(f"{title}:", file=out)
            _table([[e.get("op_idx"), e.get("count"), e.get("text")] for e in entries],
                   ["op", "count", "text"], out, indent="  ")
    halted = result.get("halted") or []
    if halted:
        total = result.get("halted_total", len(halted))
        print(f"halted: {total} instance(s)"
              + (f" (first {len(halted)} listed)" if total > len(halted) else ""), file=out)
        _print_halted(halted, out, indent="  ")
    _print_buckets(result, out)
    if result.get("latency"):
        print("latency (seconds):", file=out)
        _table([[e["op_idx"], e["count"]]
                + [f"{e[k]:.6f}" for k in ("min", "p50", "p90", "p99", "p999", "max")]
                for e in result["latency"]],
               ["op", "count", "min", "p50", "p90", "p99", "p999", "max"], out, indent="  ")
    _print_thresholds(result, out)
    for key, title in (("first_call_summary", "first call"),
                       ("first_fail_summary", "first failed instance")):
        summary = result.get(key)
        if not summary or not summary.get("check_log"):
            continue
        print(f"{title} (instance {summary.get('idx')}) check_log:", file=out)
        _table([[c.get("step"), c.get("op_idx"), c.get("status"), c.get("text")]
                for c in summary["check_log"]], ["step", "op", "status", "text"], out, indent="  ")


def _print_thresholds(result, out):
    """One line per threshold of the run: ok or FAILED (at its latest check), the rule, its
    value, and how it is checked when that is not the default (abort, after, interval)."""
    thresholds = [t for t in result.get("thresholds") or [] if isinstance(t, dict)]
    if not thresholds:
        return
    rows = []
    for t in thresholds:
        how = []
        if t.get("abort"):
            how.append("abort" + (f" after {t['after']:g}s" if t.get("after") else ""))
        if t.get("interval") not in (None, 1, 1.0):
            how.append(f"every {t['interval']:g}s")
        rows.append(["ok" if t.get("ok") else "FAILED", t.get("text", t.get("metric", "")),
                     _threshold_value(t), ", ".join(how)])
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    print("thresholds:", file=out)
    for row in rows:
        print("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths + [0])).rstrip(),
              file=out)


def _print_buckets(result, out, width=20):
    """One line per bucket: its offset from the run's start, then a bar of the instances
    started in it and a bar of those finished in it, scaled to the largest count."""
    buckets = result.get("buckets") or []
    if not buckets:
        return
    start = _t(result.get("time_start"))
    second = _t(buckets[1].get("time_start")) if len(buckets) > 1 else None
    title = "buckets" + (f" ({round(second - start, 3):g}s each)" if second and start else "")
    biggest = max(max(b.get("num_calls_started", 0), b.get("num_calls_finished", 0))
                  for b in buckets) or 1
    print(f"{title}:", file=out)
    for i, b in enumerate(buckets):
        at = _t(b.get("time_start")) if i else None
        offset = at - start if at is not None and start is not None else 0.0
        s, f = b.get("num_calls_started", 0), b.get("num_calls_finished", 0)
        print(f"  {'+%.2fs' % offset:>9}  started {s:>7} {('#' * round(width * s / biggest)):<{width}}"
              f"  finished {f:>7} {'=' * round(width * f / biggest)}".rstrip(), file=out)


def _halt_comment(op):
    args = op.get("arguments") if isinstance(op.get("arguments"), dict) else {}
    return args.get("comment", "")


def _print_halted(entries, out, indent=""):
    rows = []
    with_time = any("time_halted" in e for e in entries)
    for e in entries:
        op = e.get("operation") or {}
        args = op.get("arguments") if isinstance(op.get("arguments"), dict) else {}
        row = [e.get("instance_id"), op.get("idx"), op.get("label", ""),
               args.get("seconds", 60), _halt_comment(op)]
        if with_time:
            left = e.get("time_left")
            row += [_clock(e.get("time_halted")), "" if left is None else f"{left:.1f}"]
        rows.append(row)
    headers = ["instance", "op", "label", "timeout_s", "comment"]
    if with_time:
        headers += ["halted at", "left_s"]
    _table(rows, headers, out, indent=indent)


class Progress:
    """Live progress of a watched run: a bar rewritten in place on a terminal, else one plain
    line per poll."""

    def __init__(self, out, tty):
        self.out = out
        self.tty = tty
        self.prev = None  # (daemon time_now, started) of the previous poll
        self.drawn = False

    def update(self, result):
        counts = result.get("counts", {})
        now = _t(result.get("time_now"))
        start = _t(result.get("time_start"))
        elapsed = now - start if now is not None and start is not None else 0.0
        rate = None
        if self.prev and now is not None and now > self.prev[0]:
            rate = (counts.get("started", 0) - self.prev[1]) / (now - self.prev[0])
        self.prev = (now, counts.get("started", 0))
        pct = result.get("percent_complete")
        parts = []
        if self.tty and pct is not None:
            filled = int(20 * min(pct, 100.0) / 100)
            parts.append(f"[{'#' * filled}{'-' * (20 - filled)}] {pct:5.1f}%")
        elif pct is not None:
            parts.append(f"{pct:.1f}%")
        if result.get("status", "running") != "running" or not self.tty:
            parts.append(result.get("status", "running"))
        parts.append("  ".join(f"{k} {counts.get(k, 0)}"
                               for k in ("started", "finished", "failed", "aborted", "halted")))
        if rate is not None:
            parts.append(f"{rate:.1f}/s")
        parts.append(f"elapsed {_hms(elapsed)}")
        if pct and 0 < pct < 100 and result.get("status") == "running":
            parts.append(f"remaining {_hms(elapsed * (100 - pct) / pct)}")
        failing = [t.get("text", "?") for t in result.get("thresholds") or []
                   if isinstance(t, dict) and t.get("ok") is False]
        if failing:
            parts.append(f"failing: {', '.join(failing)}")
        line = "  ".join(parts)
        if self.tty:
            # Rewriting in place only works while the line does not wrap.
            line = line[:max(20, shutil.get_terminal_size().columns - 1)]
            self.out.write("\r" + line + "\x1b[K")
            self.drawn = True
        else:
            self.out.write(time.strftime("%H:%M:%S ") + line + "\n")
        self.out.flush()

    def finish(self):
        if self.tty and self.drawn:
            self.out.write("\n")
            self.out.flush()
            self.drawn = False


def print_rpc_error(err, method, out=None, sources=None):
    """One line with the code; for -32602 with a data list, one line per problem.
    `sources` {index: "--threshold '...'"}: the command-line option each entry of the
    request's `thresholds` came from, named after a problem's `thresholds[N]` field."""
    out = out or sys.stderr
    name = ERROR_NAMES.get(err.code)
    message = err.message
    if isinstance(err.data, list) and err.data:
        # The message repeats the first problems in one sentence; the list below has them all.
        message = f"{len(err.data)} problem(s):"
    print(f"testrun: {method} failed: error {err.code}"
          + (f" ({name})" if name else "") + f": {message}", file=out)
    if isinstance(err.data, list):
        for p in err.data:
            if not isinstance(p, dict):
                print(f"  {p}", file=out)
                continue
            where = f"op {p['op_idx']}: " if p.get("op_idx") is not None else ""
            # A problem text never repeats its field: "<field> <problem>" reads as a sentence.
            field = p.get("field", "")
            m = re.match(r"thresholds\[(\d+)\]", field)
            if m and sources and int(m.group(1)) in sources:
                field += f" (from {sources[int(m.group(1))]})"
            print(f"  {where}{field + ' ' if field else ''}{p.get('problem', '')}", file=out)
    elif err.data is not None:
        print(f"  data: {json.dumps(err.data)}", file=out)


# --------------------------------------------------------------------------------------------
# Command line


def _dump(obj):
    print(json.dumps(obj, indent=2))


def _add_global_options(parser, in_command):
    # Global options are accepted before and after the command; in the command's parser they
    # default to SUPPRESS so that they do not overwrite a value given before the command.
    default = (lambda value: argparse.SUPPRESS) if in_command else (lambda value: value)
    g = parser.add_argument_group("connection and output options")
    g.add_argument("--url", default=default(os.environ.get("TESTRUN_URL", DEFAULT_URL)),
                   help="daemon URL, http://HOST:PORT or https://HOST:PORT "
                        "(default $TESTRUN_URL or %s)" % DEFAULT_URL)
    g.add_argument("--framed", metavar="HOST:PORT", default=default(None),
                   help="use the N2SVCD length-prefixed framing instead of HTTP "
                        "(tls://HOST:PORT for the TLS port)")
    g.add_argument("--token", default=default(os.environ.get("TESTRUN_TOKEN")),
                   help="bearer token (default $TESTRUN_TOKEN)")
    g.add_argument("--cacert", metavar="FILE", default=default(None),
                   help="CA certificate (PEM) to verify an https:// or tls:// daemon")
    g.add_argument("--timeout", type=float, metavar="SECONDS",
                   default=default(DEFAULT_TIMEOUT),
                   help="connect/answer timeout per call (default %g)" % DEFAULT_TIMEOUT)
    g.add_argument("--json", action="store_true", default=default(False),
                   help="machine output: the method's result object, or the JSON-RPC error "
                        "object, as JSON on stdout")


def _add_watch_options(parser):
    w = parser.add_argument_group("watch options")
    w.add_argument("--interval", type=float, default=None, metavar="SECONDS",
                   help="seconds between polls (default 1)")
    w.add_argument("--save", metavar="FILE", help="write the final QueryTest result as JSON")
    w.add_argument("--max-failed-ratio", type=float, metavar="RATIO",
                   help="tolerate failed+aborted instances up to this share (0..1) of the "
                        "finished ones; above it exit 1 (2 if any aborted). With execute "
                        "--watch: sent to the daemon as the threshold failed_ratio<RATIO")
    w.add_argument("--max-p99", action="append", default=[], metavar="OP_IDX=SECONDS",
                   help="exit 1 if op OP_IDX's p99 latency exceeds SECONDS (or it has no "
                        "samples); repeatable. With execute --watch: sent to the daemon as the "
                        "threshold latency_p99[OP_IDX]<SECONDS")
    w.add_argument("--quiet", action="store_true", help="no progress output, only the summary")


def _add_set_option(parser, what):
    parser.add_argument("--set", action="append", default=[], metavar="v.NAME=VALUE",
                        help=f"{what}; VALUE is JSON if it parses, else a string "
                             "(v.a.b=1 nests); repeatable")


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser():
    epilog = "exit status:\n" + "\n".join(f"  {code:>3}  {text}" for code, text in EXIT_CODES)
    parser = _Parser(
        prog="testrun",
        description="Command-line client for testrund (JSON-RPC 2.0 over HTTP or the N2SVCD "
                    "framing). Also importable as a Python module: scripts/testrun.py.",
        epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_global_options(parser, in_command=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    def command(name, help_text):
        p = sub.add_parser(name, help=help_text, description=help_text, epilog=epilog,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        _add_global_options(p, in_command=True)
        return p

    p = command("execute", "start a run from a definition file (the ExecuteTest params); "
                           "prints its run_id")
    p.add_argument("file", metavar="FILE.json", help='definition file, "-" for stdin')
    p.add_argument("--run-id", help="run_id (default: the file's, else the daemon assigns one)")
    p.add_argument("--total", type=int, help="distribution.total")
    p.add_argument("--rate", type=float,
                   help="distribution.rate (makes a single/load distribution linear)")
    p.add_argument("--backlog", type=int, help="distribution.backlog")
    p.add_argument("--duration", type=float, help="distribution.duration in seconds")
    p.add_argument("--tag", action="append", default=[], help="add a tag; repeatable")
    p.add_argument("--set", action="append", default=[], metavar="v.NAME=VALUE",
                   help="set an initial var (v.NAME) or global (g.NAME); VALUE is JSON if it "
                        "parses, else a string (v.a.b=1 nests); repeatable")
    p.add_argument("--threshold", action="append", default=[], metavar="EXPR",
                   help="add a threshold for the daemon to check: METRIC[OP]<BOUND (at "
                        "most BOUND) or METRIC>BOUND (at least), then optionally :abort, "
                        ":after=SECONDS, :every=SECONDS; e.g. 'latency_p99[3]<0.25', "
                        "'failed_ratio<0.01:abort:after=10'; repeatable")
    data = p.add_mutually_exclusive_group()
    data.add_argument("--data", metavar="FILE.csv",
                      help="feed the instances the rows of this local CSV file (sent as the "
                           "definition's data: {\"csv\": its text}; the header names the "
                           "columns, read in Lua as d.NAME)")
    data.add_argument("--data-file", metavar="NAME",
                      help="feed the instances the rows of the CSV file NAME in the daemon's "
                           "data_dir (data: {\"file\": NAME})")
    p.add_argument("--start-at", metavar="TIME",
                   help="start the run at TIME: Unix seconds, or +SECONDS from now (until "
                        "then it is scheduled)")
    p.add_argument("--data-mode", choices=("sequential", "random", "unique"),
                   help="which row an instance reads (data_mode; default sequential)")
    p.add_argument("--watch", action="store_true",
                   help="then watch the run (as `watch`); with --json only the final "
                        "QueryTest result is printed")
    _add_watch_options(p)

    p = command("watch", "follow a run until it completes, print a summary; the exit "
                         "status says how it went")
    p.add_argument("run_id", metavar="RUN_ID")
    _add_watch_options(p)

    p = command("query", "print a run's status (QueryTest; a completed run is then discarded "
                         "by the daemon)")
    p.add_argument("run_id", metavar="RUN_ID")

    p = command("cancel", "cancel a run (CancelTest) and print its final status")
    p.add_argument("run_id", metavar="RUN_ID")

    p = command("restart", "cancel what still runs of a run and start its definition again "
                           "under the same run_id (RestartTest); prints the replaced run's "
                           "final status")
    p.add_argument("run_id", metavar="RUN_ID")

    p = command("halted", "list a run's halted instances")
    p.add_argument("run_id", metavar="RUN_ID")

    p = command("resume", "resume a halted instance (ResumeInstance)")
    p.add_argument("run_id", metavar="RUN_ID")
    p.add_argument("instance", metavar="INSTANCE", type=int)
    _add_set_option(p, "merge into the instance's v before it resumes")

    p = command("pause", "stop starting new instances of a run (PauseTest)")
    p.add_argument("run_id", metavar="RUN_ID")
    p = command("unpause", "start instances of a paused run again (UnpauseTest)")
    p.add_argument("run_id", metavar="RUN_ID")

    p = command("list", "list live runs (ListTests)")
    p.add_argument("--status", choices=["scheduled", "running", "paused", "completed",
                                        "cancelled", "failed", "interrupted", "degraded"])
    p.add_argument("--tag")

    command("info", "print the daemon's GetServerInfo")
    command("workers", "list a coordinator's workers: address, state, last answer, runs, "
                       "instances (GetServerInfo)")
    return parser


def _parse_p99(items):
    limits = {}
    for item in items:
        op, sep, seconds = item.partition("=")
        try:
            if not sep:
                raise ValueError
            limits[int(op)] = float(seconds)
        except ValueError:
            raise ValueError(f"--max-p99 wants OP_IDX=SECONDS, got {item!r}") from None
    return limits


def _command_line_thresholds(args):
    """The thresholds `execute` adds to the definition, each with the option it came from:
    every --threshold, then (with --watch) --max-failed-ratio and --max-p99. Raises
    ValueError for a malformed one."""
    out = [(parse_threshold(expr), f"--threshold {expr!r}") for expr in args.threshold]
    if args.max_failed_ratio is not None:
        out.append(({"metric": "failed_ratio", "max": _json_number(args.max_failed_ratio)},
                    f"--max-failed-ratio {args.max_failed_ratio:g}"))
    for op_idx, seconds in sorted(_parse_p99(args.max_p99).items()):
        out.append(({"metric": "latency_p99", "op_idx": op_idx, "max": _json_number(seconds)},
                    f"--max-p99 {op_idx}={seconds:g}"))
    return out


def _start_at(text):
    """--start-at: Unix seconds, or +SECONDS from now; None without it."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"--start-at wants Unix seconds or +SECONDS, got {text!r}")
    return time.time() + value if text.strip().startswith("+") else value


def _command_line_data(args):
    """The `data` that --data (a local CSV file, sent inline) or --data-file (a file in the
    daemon's data_dir) gives, or None. An unreadable file is a usage error."""
    if args.data_file:
        return {"file": args.data_file}
    if not args.data:
        return None
    try:
        with open(args.data, encoding="utf-8", newline="") as f:
            return {"csv": f.read()}
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) else "not UTF-8 text"
        raise ValueError(f"--data {args.data}: {reason}") from None


def _open_save(args):
    """Opens --save's file before anything starts: a path that cannot be written is a usage
    error (exit 64), not a traceback after the run ended. None without --save."""
    if not args.save:
        return None
    try:
        return open(args.save, "w", encoding="utf-8")
    except OSError as e:
        raise ValueError(f"--save {args.save}: {e.strerror}") from None


def _watch(client, run_id, args, progress_out, save_file=None, client_side=True):
    """Runs the watch loop and prints the final summary; returns the exit status. Writes
    the final result to `save_file` (from _open_save) and closes it. `client_side`: judge
    --max-failed-ratio and --max-p99 here (watch RUN_ID); execute --watch sent them to the
    daemon as thresholds instead."""
    with save_file or contextlib.nullcontext():
        return _watch_and_save(client, run_id, args, progress_out, save_file, client_side)


def _watch_and_save(client, run_id, args, progress_out, save_file, client_side):
    limits = _parse_p99(args.max_p99) if client_side else None
    max_failed_ratio = args.max_failed_ratio if client_side else None
    interval = args.interval if args.interval is not None else 1.0
    progress = None
    if not args.quiet:
        progress = Progress(progress_out, progress_out.isatty())
    vanished = False
    try:
        final = client.wait(run_id, interval=interval,
                            on_poll=progress.update if progress else None)
    except RunVanished as e:
        final, vanished = e.last, True
    finally:
        if progress:
            progress.finish()
    if save_file:
        json.dump(final, save_file, indent=2)
        save_file.write("\n")
    code, reasons = verdict(final, max_failed_ratio, limits, vanished=vanished)
    if args.json:
        _dump(final)
    else:
        print_summary(final, sys.stdout, vanished=vanished)
    out = sys.stderr if args.json else sys.stdout
    outcome = {0: "PASSED", 1: "FAILED", 2: "ABORTED", 3: "CANCELLED"}[code]
    print(f"result: {outcome} (exit {code})" + (": " + "; ".join(reasons) if reasons else ""),
          file=out)
    return code


def _has_watch_options(args):
    return (args.interval is not None or args.save or args.max_failed_ratio is not None
            or args.max_p99 or args.quiet)


def run_command(args):
    """Executes parsed arguments; returns the exit status. Raises TestrunError."""
    client = Client(url=args.url, framed=args.framed, token=args.token, cacert=args.cacert,
                    timeout=args.timeout)
    with client:
        cmd = args.command
        if cmd == "execute":
            definition = load_definition(args.file)
            sets = [parse_set(s, prefixes=("v", "g")) for s in args.set]
            # A bad threshold is reported before anything starts.
            added = _command_line_thresholds(args)
            if not args.watch and _has_watch_options(args):
                raise ValueError("watch options need --watch")
            params = apply_overrides(definition, run_id=args.run_id, total=args.total,
                                     rate=args.rate, backlog=args.backlog,
                                     duration=args.duration, sets=sets, tags=args.tag,
                                     thresholds=[t for t, _ in added],
                                     data=_command_line_data(args), data_mode=args.data_mode,
                                     start_at=_start_at(args.start_at))
            save_file = _open_save(args)
            try:
                result = client.call("ExecuteTest", params)
            except RpcError as e:
                if save_file:
                    save_file.close()
                first = len(params.get("thresholds", [])) - len(added)
                e.sources = {first + i: source for i, (_, source) in enumerate(added)}
                raise
            if not args.watch:
                if args.json:
                    _dump(result)
                else:
                    print(result["run_id"])
                return EXIT_PASSED
            progress_out = sys.stderr if args.json else sys.stdout
            if not args.json:
                print(f"started run {result['run_id']}")
            return _watch(client, result["run_id"], args, progress_out, save_file,
                          client_side=False)
        if cmd == "watch":
            _parse_p99(args.max_p99)
            return _watch(client, args.run_id, args, sys.stderr if args.json else sys.stdout,
                          _open_save(args))
        if cmd in ("query", "cancel"):
            result = client.call("QueryTest" if cmd == "query" else "CancelTest",
                                 run_id=args.run_id)
            if args.json:
                _dump(result)
            else:
                print_summary(result, sys.stdout)
            return EXIT_PASSED
        if cmd == "restart":
            result = client.restart_test(args.run_id)
            if args.json:
                _dump(result)
            else:
                print(f"run {args.run_id} restarted (restart {result['restarts']}); "
                      "before the restart:")
                print_summary(result["previous"], sys.stdout)
            return EXIT_PASSED
        if cmd == "halted":
            result = client.call("QueryTest", run_id=args.run_id)
            if args.json:
                _dump(result)
                return EXIT_PASSED
            halted = result.get("halted") or []
            total = result.get("halted_total", len(halted))
            if not halted:
                print(f"run {args.run_id}: no halted instances ({result.get('status')})")
                return EXIT_PASSED
            _print_halted(halted, sys.stdout)
            if total > len(halted):
                print(f"({total} halted, first {len(halted)} listed)")
            if result.get("completed") == 1:
                print(f"run {args.run_id} has completed (and is now discarded by the daemon)")
            return EXIT_PASSED
        if cmd == "resume":
            vars_ = {}
            for _, keys, value in (parse_set(s) for s in args.set):
                _assign(vars_, keys, value)
            result = client.resume_instance(args.run_id, args.instance, vars_ or None)
            if args.json:
                _dump(result)
            else:
                print(f"resumed instance {args.instance} of run {args.run_id}")
            return EXIT_PASSED
        if cmd in ("pause", "unpause"):
            result = client.call("PauseTest" if cmd == "pause" else "UnpauseTest",
                                 run_id=args.run_id)
            if args.json:
                _dump(result)
            else:
                print(f"run {args.run_id}: {result.get('status', cmd + 'd')}")
            return EXIT_PASSED
        if cmd == "list":
            params = {k: v for k, v in (("status", args.status), ("tag", args.tag)) if v}
            result = client.call("ListTests", params)
            if args.json:
                _dump(result)
                return EXIT_PASSED
            runs = result.get("runs", [])
            if not runs:
                print("no runs")
                return EXIT_PASSED
            # The thresholds column only when some run has thresholds (ok or FAILED at
            # their latest check, - for a run without).
            with_thresholds = any("thresholds_ok" in r for r in runs)
            _table([[r.get("run_id"), r.get("status"), _clock(r.get("time_start"))]
                    + [r.get("counts", {}).get(k, 0)
                       for k in ("started", "finished", "failed", "aborted", "halted")]
                    + ([{True: "ok", False: "FAILED"}.get(r.get("thresholds_ok"), "-")]
                       if with_thresholds else [])
                    + [",".join(r.get("tags") or [])] for r in runs],
                   ["run_id", "status", "started at", "started", "finished", "failed",
                    "aborted", "halted"] + (["thresholds"] if with_thresholds else [])
                   + ["tags"], sys.stdout)
            explained = [r for r in runs if r.get("status_reason")]
            if explained:
                print("reasons:")
                for r in explained:
                    print(f"  {r.get('run_id')}: {r['status_reason']}")
            return EXIT_PASSED
        if cmd == "info":
            result = client.server_info()
            if args.json:
                _dump(result)
                return EXIT_PASSED
            for key, value in result.items():
                if key == "workers":
                    continue  # `testrun workers` shows them as a table
                shown = _clock(value) if key == "time_start" else value
                print(f"{key}: {shown}")
            return EXIT_PASSED
        if cmd == "workers":
            workers = client.server_info().get("workers")
            if args.json:
                _dump({"workers": workers or []})
                return EXIT_PASSED
            if workers is None:
                print("no workers (the daemon is not a coordinator)")
                return EXIT_PASSED
            _table([[w.get("address"), w.get("state"),
                     _clock(w["last_answer"]) if w.get("last_answer") else "never",
                     w.get("runs", 0), w.get("instances_live", 0)] for w in workers],
                   ["address", "state", "last answer", "runs", "instances"], sys.stdout)
            return EXIT_PASSED
        raise ValueError(f"unknown command {cmd!r}")


def main(argv=None):
    """The CLI: parses argv (default sys.argv[1:]) and returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return run_command(args)
    except RpcError as e:
        if args.json:
            _dump(e.error)
        print_rpc_error(e, e.method or args.command, sources=getattr(e, "sources", None))
        return EXIT_RPC_ERROR
    except Unreachable as e:
        print(f"testrun: cannot reach the daemon: {e}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except BadResponse as e:
        print(f"testrun: bad answer: {e}", file=sys.stderr)
        return EXIT_BAD_RESPONSE
    except ValueError as e:
        print(f"testrun: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("\ntestrun: interrupted; the run carries on "
              f"(testrun cancel RUN_ID stops it)", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_PASSED


if __name__ == "__main__":
    sys.exit(main())
