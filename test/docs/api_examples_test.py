#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Runs every JSON-RPC request example of docs/api.md against the real daemon.

The manual cannot drift from the code if its examples are executed. Convention (also
described at the top of docs/api.md):

- A request example is a fenced code block (```json or ```text) whose nearest preceding
  non-blank line is `Request:` (sent as an HTTP POST to /) or `Request (framed):` (sent with
  the 4-byte length prefix on a fresh connection). The block's text is sent byte for byte
  (so a parse-error example may be invalid JSON).
- The response to show is the next fenced block whose preceding line is `Response:`. A
  request that gets no response (notifications) is followed by the line `Response: none.`
  instead of a block.
- Examples run in document order against ONE daemon (started with
  `completed_run_retention = 60`, on 127.0.0.1:0), so a run started by one example is
  there for the next ones.

Checks for every example:
- the kind matches: a `result` in the doc needs a result, an `error` needs an error with
  the same `code`; a batch is compared element by element, matched by `id`;
- the `id` is echoed with its JSON type unchanged;
- every object member the doc shows exists in the real response (recursively; for a
  non-empty array in the doc, the real array is non-empty and its first element is
  compared), so no documented field is fictional. Values may differ (times, sizes), except
  for the members in EXACT_VALUES, which must be equal.

Read-only methods (QueryTest, ListTests, GetServerInfo) are retried for up to 10 s until
they match, because a run's state moves on its own (an instance reaching its halt, a run
completing). Every other request is sent exactly once.

Also: every ```json block in the document that contains both "jsonrpc" and "method" must be
a request example (so no example escapes the test); shell transcripts go in ```sh or
```text blocks.

Usage: api_examples_test.py DOCS/api.md   (TESTRUND_BINARY names the daemon; PYTHONPATH
       must include test/pylib — meson sets both)
       add --show to print each real response (for writing the manual).
"""

import http.client
import json
import re
import socket
import struct
import sys
import time

from daemon_process import DaemonProcess

EXACT_VALUES = {"completed", "status", "run_id", "resumed", "cancelled", "code", "instance_id"}
READ_ONLY = {"QueryTest", "ListTests", "GetServerInfo"}
RETRY_SECONDS = 10.0

FENCE = re.compile(r"^```(\w*)\s*$")


class Example:
    def __init__(self, line, framed, body):
        self.line = line  # 1-based line of the request block's opening fence
        self.framed = framed
        self.body = body
        self.response = None  # the doc's response text, or None for "Response: none."
        self.expect_none = False


def parse_blocks(text):
    """Yields (label_line, fence_line_number, lang, body) for every fenced block."""
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start = i
        j = i + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        body = "\n".join(lines[i + 1:j])
        k = start - 1
        while k >= 0 and lines[k].strip() == "":
            k -= 1
        label = lines[k].strip() if k >= 0 else ""
        yield label, start + 1, m.group(1), body, j
        i = j + 1


def extract(text):
    """Returns the list of Example, and a list of convention errors."""
    lines = text.split("\n")
    examples = []
    errors = []
    pending = None
    blocks = list(parse_blocks(text))
    for label, line, lang, body, end in blocks:
        if label in ("Request:", "Request (framed):"):
            if pending is not None:
                errors.append(f"line {pending.line}: request without a Response")
            pending = Example(line, label == "Request (framed):", body)
            examples.append(pending)
            # A "Response: none." line before the next block ends this example.
            for k in range(end + 1, len(lines)):
                s = lines[k].strip()
                if s.startswith("```"):
                    break
                if s == "Response: none.":
                    pending.expect_none = True
                    pending = None
                    break
            continue
        if label == "Response:":
            if pending is None:
                errors.append(f"line {line}: Response without a Request")
                continue
            pending.response = body
            pending = None
            continue
        if lang == "json" and '"jsonrpc"' in body and '"method"' in body:
            errors.append(
                f"line {line}: a JSON-RPC request block not labelled 'Request:' "
                f"(label was {label!r})")
    if pending is not None:
        errors.append(f"line {pending.line}: request without a Response")
    return examples, errors


def send_http(port, body):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", "/", body=body.encode("utf-8"),
                 headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    data = resp.read().decode("utf-8")
    conn.close()
    return resp.status, data


def send_framed(port, body):
    raw = body.encode("utf-8")
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(struct.pack(">I", len(raw)) + raw)
        chunks = []
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    data = b"".join(chunks)
    if not data:
        return 204, ""  # no response: the daemon closed without writing
    (length,) = struct.unpack(">I", data[:4])
    if length != len(data) - 4:
        raise AssertionError(f"framed response length {length} != {len(data) - 4}")
    return 200, data[4:].decode("utf-8")


def same_json_type(a, b):
    def kind(x):
        if isinstance(x, bool):
            return "bool"
        if isinstance(x, (int, float)):
            return "number"
        return type(x).__name__
    return kind(a) == kind(b)


def compare(doc, real, path, problems):
    """Every member the doc shows exists in `real`; EXACT_VALUES members are equal."""
    if isinstance(doc, dict):
        if not isinstance(real, dict):
            problems.append(f"{path}: doc shows an object, got {json.dumps(real)[:80]}")
            return
        for key, value in doc.items():
            if key not in real:
                problems.append(f"{path}.{key}: shown in the doc, missing in the response")
                continue
            # counts.cancelled is a number that moves; CancelTest's cancelled is the flag.
            exact = key in EXACT_VALUES and not path.endswith(".counts")
            if exact and not isinstance(value, (dict, list)):
                if value != real[key] or not same_json_type(value, real[key]):
                    problems.append(
                        f"{path}.{key}: doc shows {json.dumps(value)}, got "
                        f"{json.dumps(real[key])}")
                    continue
            compare(value, real[key], f"{path}.{key}", problems)
    elif isinstance(doc, list):
        if not isinstance(real, list):
            problems.append(f"{path}: doc shows an array, got {json.dumps(real)[:80]}")
            return
        if doc and not real:
            problems.append(f"{path}: doc shows a non-empty array, got []")
        elif doc and real:
            compare(doc[0], real[0], f"{path}[0]", problems)


def compare_response(doc, real, problems):
    if isinstance(doc, list):
        if not isinstance(real, list):
            problems.append("doc shows a batch response, got a single one")
            return
        if len(doc) != len(real):
            problems.append(f"doc shows {len(doc)} responses, got {len(real)}")
            return
        by_id = {}
        for r in real:
            by_id.setdefault(json.dumps(r.get("id")), []).append(r)
        for d in doc:
            key = json.dumps(d.get("id"))
            candidates = by_id.get(key)
            if not candidates:
                problems.append(f"no response with id {key}")
                continue
            compare_one(d, candidates.pop(0), problems)
        return
    if isinstance(real, list):
        problems.append("doc shows a single response, got a batch")
        return
    compare_one(doc, real, problems)


def compare_one(doc, real, problems):
    if real.get("jsonrpc") != "2.0":
        problems.append("response lacks \"jsonrpc\": \"2.0\"")
    if "id" in doc:
        if "id" not in real or doc["id"] != real["id"] or not same_json_type(doc["id"],
                                                                            real["id"]):
            problems.append(f"id: doc shows {json.dumps(doc.get('id'))}, got "
                            f"{json.dumps(real.get('id'))}")
    if "error" in doc:
        if "error" not in real:
            problems.append(f"doc shows error {doc['error'].get('code')}, got a result")
            return
        compare(doc["error"], real["error"], "error", problems)
    elif "result" in doc:
        if "result" not in real:
            problems.append(f"doc shows a result, got error {json.dumps(real.get('error'))}")
            return
        compare(doc["result"], real["result"], "result", problems)
    else:
        problems.append("doc response has neither result nor error")


def methods_of(body):
    try:
        req = json.loads(body)
    except ValueError:
        return set()
    reqs = req if isinstance(req, list) else [req]
    return {r.get("method") for r in reqs if isinstance(r, dict)}


def run_example(port, ex, show):
    send = send_framed if ex.framed else send_http
    methods = methods_of(ex.body)
    retry = bool(methods) and methods <= READ_ONLY
    deadline = time.time() + RETRY_SECONDS
    while True:
        status, data = send(port, ex.body)
        problems = []
        if ex.expect_none:
            if status != 204 or data:
                problems.append(f"doc shows no response, got HTTP {status} {data[:200]}")
        elif status != 200:
            problems.append(f"HTTP {status}: {data[:200]}")
        else:
            try:
                real = json.loads(data)
                doc = json.loads(ex.response)
            except ValueError as e:
                problems.append(f"not JSON: {e}")
            else:
                compare_response(doc, real, problems)
        if not problems or not retry or time.time() > deadline:
            break
        time.sleep(0.1)
    if show:
        print(f"--- line {ex.line}{' (framed)' if ex.framed else ''}")
        print(data if data else "(no response)")
    return problems


def main(argv):
    show = "--show" in argv
    args = [a for a in argv[1:] if a != "--show"]
    if len(args) != 1:
        print(__doc__)
        return 2
    with open(args[0], encoding="utf-8") as f:
        text = f.read()
    examples, errors = extract(text)
    if not examples:
        errors.append("no request examples found")
    for e in errors:
        print(f"{args[0]}: {e}")
    daemon = DaemonProcess({"completed_run_retention": 60})
    port = daemon.port
    failed = 0
    try:
        for ex in examples:
            if ex.response is None and not ex.expect_none:
                continue  # reported by extract()
            problems = run_example(port, ex, show)
            if problems:
                failed += 1
                print(f"{args[0]}:{ex.line}: example does not match the daemon:")
                for p in problems:
                    print(f"    {p}")
        if not daemon.running():
            print(f"the daemon exited with status {daemon.returncode}")
            failed += 1
    finally:
        status = daemon.stop()
    # A crash, or a sanitizer report or leak in the sanitize build, is a non-zero status.
    if status != 0:
        print(f"the daemon exited with status {status}:\n" + daemon.log())
        failed += 1
    print(f"{len(examples)} examples, {failed} failed, {len(errors)} convention errors")
    return 1 if failed or errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
