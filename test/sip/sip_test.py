#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The sip ops through the real daemon against SIPp, the reference SIP load tool
(docs/protocol-ops.md#sip), on loopback over UDP and TCP.

- testrund as UAC against `sipp -sn uas -m 1000`: 1,000 calls (INVITE, 180, 200, ACK, BYE,
  200) at a steady rate all pass, SIPp exits 0 (every call of its own successful), and the
  first call's trace shows each message in order with its text.
- The same over TCP against `sipp -sn uas -t t1` (a connection per call; Via and Contact
  name TCP); a peer that sends what is not SIP on the connection aborts the instance with the
  byte offset.
- testrund as UAS (a sip.receive of an INVITE first) called by `sipp -sn uac -m 100`, over
  UDP and over TCP (`sip.local: "tcp://..."`, `sipp -t t1`): SIPp exits 0, every instance
  passes.
- What belongs to no call: garbage (dropped, `malformed`), a BYE of an unknown dialog
  (answered 481, `no_dialog`), a new INVITE with no instance waiting (503, `rejected`), a
  response with a wrong branch (dropped, `unmatched`) — while the call being answered
  continues and a bystander run keeps its exact counts.
- Every bad parameter of sip.send, sip.receive and ExecuteTest's `sip`: -32602 naming the
  field.

Skipped when SIPp (Debian's sip-tester, installed by scripts/setup --test-peers) is absent.
Python 3 standard library only; TESTRUND_BINARY names the daemon (meson sets it).
"""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

from daemon_process import DaemonProcess
from polling import free_port, wait_for
from rpc_client import Rpc

SIPP = shutil.which("sipp")

SDP = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       "m=audio 6000 RTP/AVP 0\r\n")

UAC_CALL = [
    {"type": "sip.send", "arguments": {"method": "INVITE", "uri": "{v.uri}", "body": SDP}},
    {"type": "sip.receive", "expect": {"status": 200}, "mandatory": True},
    {"type": "sip.send", "arguments": {"method": "ACK"}},
    {"type": "sip.send", "arguments": {"method": "BYE"}},
    {"type": "sip.receive", "expect": {"status": 200}, "mandatory": True},
]

UAS_CALL = [
    {"type": "sip.receive", "arguments": {"timeout": 60}, "expect": {"method": "INVITE"},
     "mandatory": True},
    {"type": "sip.send", "arguments": {"status": 180}},
    {"type": "sip.send", "arguments": {"status": 200, "body": SDP}},
    {"type": "sip.receive", "expect": {"method": "ACK"}, "mandatory": True},
    {"type": "sip.receive", "expect": {"method": "BYE"}, "mandatory": True},
    {"type": "sip.send", "arguments": {"status": 200}},
]


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sipp:
    """SIPp as a child process of the test, its statistics in a temporary directory."""

    def __init__(self, args):
        self.dir = tempfile.mkdtemp(prefix="sipp_")
        self.process = subprocess.Popen(
            [SIPP, *args, "-nostdin", "-nd", "-trace_err",
             "-error_file", os.path.join(self.dir, "errors.log")],
            cwd=self.dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def wait(self, timeout=60):
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise

    def errors(self):
        path = os.path.join(self.dir, "errors.log")
        return open(path, encoding="utf-8", errors="replace").read() if os.path.exists(path) else ""

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def start_line(entry):
    return entry["text"].split("\r\n", 1)[0]


@unittest.skipIf(SIPP is None, "SIPp (sip-tester) is not installed")
class SipTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.daemon = DaemonProcess({"completed_run_retention": 600})
        cls.rpc = Rpc(cls.daemon.port)
        # A run beside everything else: its counts must come out exact.
        cls.rpc.call("ExecuteTest", run_id="bystander",
                     distribution={"type": "linear", "rate": 20, "total": 200},
                     operations=[{"type": "eval", "expression": "g.n = (g.n or 0) + 1"}])

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()

    def test_uac_against_sipp_uas(self):
        port = free_udp_port()
        sipp = Sipp(["-sn", "uas", "-i", "127.0.0.1", "-p", str(port), "-m", "1000"])
        try:
            time.sleep(0.3)
            self.rpc.call("ExecuteTest", run_id="uac",
                          distribution={"type": "linear", "rate": 250, "total": 1000},
                          vars={"uri": f"sip:service@127.0.0.1:{port}"},
                          operations=UAC_CALL)
            q = self.rpc.completed("uac")
            self.assertEqual(q["counts"]["passed"], 1000, q["first_aborts"])
            self.assertEqual(q["counts"]["aborted"], 0)
            self.assertEqual(q["sip"]["malformed"], 0)
            self.assertEqual(q["sip"]["rejected"], 0)
            self.assertEqual(sipp.wait(), 0, sipp.errors())

            trace = q["first_call_summary"]["trace_log"]
            messages = [(e["path"], start_line(e)) for e in trace if e["path"].startswith("sip.")]
            # Each message carries the step of the op that sent or awaited it.
            self.assertEqual([e["step"] for e in trace if e["path"].startswith("sip.")],
                             [0, 1, 1, 2, 3, 4])
            self.assertEqual([m[0] for m in messages], [
                "sip.tester_to_sut", "sip.sut_to_tester", "sip.sut_to_tester",
                "sip.tester_to_sut", "sip.tester_to_sut", "sip.sut_to_tester"])
            lines = [m[1] for m in messages]
            self.assertEqual(lines[0], f"INVITE sip:service@127.0.0.1:{port} SIP/2.0")
            self.assertEqual(lines[1:3], ["SIP/2.0 180 Ringing", "SIP/2.0 200 OK"])
            # In-dialog requests go to the Contact of the 2xx.
            self.assertEqual(lines[3], f"ACK sip:127.0.0.1:{port};transport=UDP SIP/2.0")
            self.assertEqual(lines[4], f"BYE sip:127.0.0.1:{port};transport=UDP SIP/2.0")
            self.assertEqual(lines[5], "SIP/2.0 200 OK")
            invite = trace[0]["text"]
            for header in ("Via: SIP/2.0/UDP 127.0.0.1:", ";branch=z9hG4bK", "CSeq: 1 INVITE",
                           "Max-Forwards: 70", "Content-Type: application/sdp",
                           f"Content-Length: {len(SDP)}\r\n"):
                self.assertIn(header, invite)
            self.assertEqual(bytes.fromhex(trace[0]["hex"]).decode(), invite)
            self.assertIn("CSeq: 2 BYE\r\n", trace[4]["text"])
        finally:
            sipp.close()

    def test_uac_over_tcp(self):
        port = free_port()
        sipp = Sipp(["-sn", "uas", "-t", "t1", "-i", "127.0.0.1", "-p", str(port), "-m", "1000"])
        try:
            time.sleep(0.3)
            call = json.loads(json.dumps(UAC_CALL))
            call[0]["arguments"]["target"] = f"tcp://127.0.0.1:{port}"
            self.rpc.call("ExecuteTest", run_id="uac-tcp",
                          distribution={"type": "linear", "rate": 250, "total": 1000},
                          vars={"uri": f"sip:service@127.0.0.1:{port}"}, operations=call)
            q = self.rpc.completed("uac-tcp")
            self.assertEqual(q["counts"]["passed"], 1000, q["first_aborts"])
            self.assertEqual(sipp.wait(), 0, sipp.errors())
            self.assertEqual(q["sip"]["retransmissions_sent"], 0)
            trace = q["first_call_summary"]["trace_log"]
            self.assertEqual([start_line(e).split(" ")[0] for e in trace],
                             ["INVITE", "SIP/2.0", "SIP/2.0", "ACK", "BYE", "SIP/2.0"])
            self.assertRegex(trace[0]["text"], r"\r\nVia: SIP/2.0/TCP 127\.0\.0\.1:\d+;branch=")
            self.assertRegex(trace[0]["text"], r"\r\nContact: <sip:testrund@127\.0\.0\.1:\d+;"
                                               r"transport=tcp>\r\n")
        finally:
            sipp.close()

    def test_malformed_over_tcp_aborts_the_instance(self):
        for run_id, reply, text in [
                ("tcp-garbage", b"SIP/2.0 100 Trying\r\nno colon here\r\n\r\n",
                 "a header line without a colon at byte 20 of the message"),
                ("tcp-oversized", b"SIP/2.0 200 OK\r\nl: 70000\r\n\r\n" + b"x" * 1000,
                 "a body of 70000 bytes makes the message longer than the 65536-byte limit "
                 "at byte 28 of the message")]:
            with self.subTest(run_id=run_id), socket.socket() as server:
                server.bind(("127.0.0.1", 0))
                server.listen(1)
                port = server.getsockname()[1]
                call = json.loads(json.dumps(UAC_CALL))
                call[0]["arguments"]["target"] = f"tcp://127.0.0.1:{port}"
                self.rpc.call("ExecuteTest", run_id=run_id,
                              vars={"uri": f"sip:service@127.0.0.1:{port}"}, operations=call)
                server.settimeout(10)
                conn, _ = server.accept()
                with conn:
                    conn.settimeout(10)
                    self.assertTrue(conn.recv(65536).startswith(b"INVITE "))
                    conn.sendall(reply)
                    q = self.rpc.completed(run_id, 30)
                self.assertEqual(q["counts"]["aborted"], 1)
                self.assertEqual(q["first_aborts"][0]["text"],
                                 f"malformed SIP message from 127.0.0.1:{port} over TCP: {text}")
                self.assertEqual(q["sip"]["malformed"], 1)

    def test_uas_called_by_sipp_uac(self):
        port = free_udp_port()
        self.rpc.call("ExecuteTest", run_id="uas", sip={"local": f"udp://127.0.0.1:{port}"},
                      distribution={"type": "load", "total": 100, "backlog": 100},
                      operations=UAS_CALL)
        wait_for(lambda: self.rpc.call("QueryTest", run_id="uas")["counts"]["running"] == 100,
                 "100 instances waiting")
        sipp = Sipp(["-sn", "uac", "-i", "127.0.0.1", "-p", str(free_udp_port()),
                     f"127.0.0.1:{port}", "-m", "100", "-r", "50"])
        try:
            self.assertEqual(sipp.wait(), 0, sipp.errors())
            q = self.rpc.completed("uas")
            self.assertEqual(q["counts"]["passed"], 100, q["first_aborts"])
            self.assertEqual(q["sip"]["rejected"], 0)
        finally:
            sipp.close()

    def test_loss(self):
        # SIPp drops 10 % of what it receives; its own sends are marked lost="0" (its stock
        # scenario cannot recover when its 180 and 200 are both lost, whatever the client
        # does).
        port = free_udp_port()
        # `sipp -sd` prints the scenario and exits 99.
        scenario = subprocess.run([SIPP, "-sd", "uas"], capture_output=True, text=True).stdout
        self.assertIn('<scenario name="Basic UAS responder">', scenario)
        scenario = scenario.replace("<send>", '<send lost="0">').replace(
            '<send retrans="500">', '<send retrans="500" lost="0">')
        sipp = None
        workdir = tempfile.mkdtemp(prefix="sipp_loss_")
        try:
            path = os.path.join(workdir, "uas_lossy.xml")
            with open(path, "w", encoding="utf-8") as f:
                f.write(scenario)
            sipp = Sipp(["-sf", path, "-i", "127.0.0.1", "-p", str(port), "-m", "200",
                         "-lost", "10", "-trace_screen"])
            time.sleep(0.3)
            call = json.loads(json.dumps(UAC_CALL))
            for op in call:
                if op["type"] == "sip.receive":
                    op["arguments"] = {"timeout": 40}
            # A second between ACK and BYE: when SIPp loses an ACK it resends its 200 (at
            # 500 ms) before the BYE tells it the call went on, and the daemon ACKs again.
            call.insert(3, {"type": "wait", "arguments": {"seconds": 1}})
            self.rpc.call("ExecuteTest", run_id="loss",
                          distribution={"type": "linear", "rate": 100, "total": 200},
                          vars={"uri": f"sip:service@127.0.0.1:{port}"}, operations=call)
            q = self.rpc.completed("loss")
            self.assertEqual(q["counts"]["passed"], 200, q["first_aborts"])
            self.assertEqual(sipp.wait(), 0, sipp.errors())
            screens = [f for f in os.listdir(sipp.dir) if f.endswith("_screen.log")]
            self.assertEqual(len(screens), 1, os.listdir(sipp.dir))
            rows = self.screen_rows(os.path.join(sipp.dir, screens[0]))
            lost = rows[("->", "INVITE")]["lost"] + rows[("->", "BYE")]["lost"]
            self.assertGreater(lost, 0, rows)  # 10 % of 400: none lost would mean no test
            q = self.rpc.call("QueryTest", run_id="loss")
            self.assertGreaterEqual(q["sip"]["retransmissions_sent"], lost, rows)
            self.assertEqual(q["sip"]["retransmissions_received"],
                             sum(r["retrans"] for r in rows.values()), rows)
            if rows[("->", "ACK")]["lost"] > 0:
                self.assertGreater(q["sip"]["retransmissions_received"], 0, rows)
        finally:
            if sipp is not None:
                sipp.close()
            shutil.rmtree(workdir, ignore_errors=True)

    @staticmethod
    def screen_rows(path):
        """SIPp's scenario screen (the first, final one): {(direction, message): {"retrans",
        "lost"}}, summed over rows of the same message."""
        rows = {}
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if "Statistics Screen" in line:
                    break
                parts = line.split()
                if len(parts) < 3 or parts[0] not in ("---------->", "<----------"):
                    continue
                direction = "->" if parts[0].startswith("-") else "<-"
                # Messages Retrans Timeout Unexp. Lost (as far as they apply to the row).
                numbers = [int(p) for p in parts[2:] if p.isdigit()]
                row = rows.setdefault((direction, parts[1]), {"retrans": 0, "lost": 0})
                row["retrans"] += numbers[1] if len(numbers) > 1 else 0
                row["lost"] += numbers[4] if len(numbers) > 4 else 0
        return rows

    def test_uas_over_tcp_called_by_sipp_uac(self):
        port = free_port()
        self.rpc.call("ExecuteTest", run_id="uas-tcp", sip={"local": f"tcp://127.0.0.1:{port}"},
                      distribution={"type": "load", "total": 100, "backlog": 100},
                      operations=UAS_CALL)
        wait_for(lambda: self.rpc.call("QueryTest", run_id="uas-tcp")["counts"]["running"] == 100,
                 "100 instances waiting")
        sipp = Sipp(["-sn", "uac", "-t", "t1", "-i", "127.0.0.1", "-p", str(free_port()),
                     f"127.0.0.1:{port}", "-m", "100", "-r", "50"])
        try:
            self.assertEqual(sipp.wait(), 0, sipp.errors())
            q = self.rpc.completed("uas-tcp")
            self.assertEqual(q["counts"]["passed"], 100, q["first_aborts"])
            self.assertEqual(q["sip"]["retransmissions_sent"], 0)
            ok = [e for e in q["first_call_summary"]["trace_log"]
                  if e["path"] == "sip.tester_to_sut" and "200 OK" in start_line(e)][0]
            self.assertRegex(ok["text"], r"\r\nContact: <sip:testrund@127\.0\.0\.1:\d+;"
                                         r"transport=tcp>\r\n")
        finally:
            sipp.close()

    def test_garbage_on_an_accepted_connection_closes_it(self):
        port = free_port()
        self.rpc.call("ExecuteTest", run_id="tcp-shared", sip={"local": f"tcp://127.0.0.1:{port}"},
                      operations=[{"type": "sip.receive", "arguments": {"timeout": 2}}])
        wait_for(lambda: self.rpc.call("QueryTest", run_id="tcp-shared")["counts"]["running"] == 1,
                 "the instance waiting")
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(b"HELLO\r\n\r\n")
            self.assertEqual(conn.recv(100), b"")  # closed by the daemon
        q = self.rpc.completed("tcp-shared", 30)
        self.assertEqual(q["sip"]["malformed"], 1)
        self.assertEqual(q["first_aborts"][0]["text"],
                         "SIP receive timed out after 2 seconds waiting for a new request")

    def exchange(self, sock, port, text, expect_answer=True):
        sock.sendto(text.encode(), ("127.0.0.1", port))
        if not expect_answer:
            return None
        data, _ = sock.recvfrom(65536)
        return data.decode()

    def test_what_belongs_to_no_call(self):
        port = free_udp_port()
        self.rpc.call("ExecuteTest", run_id="orphans", sip={"local": f"udp://127.0.0.1:{port}"},
                      operations=[
                          {"type": "sip.receive", "arguments": {"timeout": 30},
                           "expect": {"method": "INVITE"}, "mandatory": True},
                          {"type": "sip.send", "arguments": {"status": 486}},
                          {"type": "sip.receive", "expect": {"method": "ACK"}, "mandatory": True},
                      ])
        wait_for(lambda: self.rpc.call("QueryTest", run_id="orphans")["counts"]["running"] == 1,
                 "the instance waiting")
        time.sleep(0.1)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            sock.settimeout(10)
            me = sock.getsockname()[1]
            via = f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bK{{}}\r\n"

            def request(method, branch, call_id, to_tag="", cseq=1):
                return (f"{method} sip:x@127.0.0.1:{port} SIP/2.0\r\n" + via.format(branch) +
                        f"From: <sip:t@127.0.0.1>;tag=f\r\nTo: <sip:x@127.0.0.1>{to_tag}\r\n"
                        f"Call-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n")

            self.exchange(sock, port, "\x16\x03garbage\r\n\r\n", expect_answer=False)
            answer = self.exchange(sock, port, request("BYE", "b1", "stray", ";tag=gone"))
            self.assertTrue(answer.startswith("SIP/2.0 481 Call/Transaction Does Not Exist\r\n"),
                            answer)
            self.assertIn("Call-ID: stray\r\n", answer)
            answer = self.exchange(sock, port, request("INVITE", "i1", "call-1"))
            self.assertTrue(answer.startswith("SIP/2.0 486 Busy Here\r\n"), answer)
            self.assertIn(";branch=z9hG4bKi1\r\n", answer)
            self.assertRegex(answer, r"To: <sip:x@127.0.0.1>;tag=\w+\r\n")
            # A response of no transaction of that call: dropped.
            self.exchange(sock, port, "SIP/2.0 200 OK\r\n" + via.format("wrong") +
                          "From: <sip:t@127.0.0.1>;tag=f\r\nTo: <sip:x@127.0.0.1>\r\n"
                          "Call-ID: call-1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
                          expect_answer=False)
            answer = self.exchange(sock, port, request("INVITE", "i2", "call-2"))
            self.assertTrue(answer.startswith("SIP/2.0 503 Service Unavailable\r\n"), answer)
            self.exchange(sock, port, request("ACK", "i1", "call-1"), expect_answer=False)
        q = self.rpc.completed("orphans", 30)
        self.assertEqual(q["counts"]["passed"], 1, q["first_aborts"])
        self.assertEqual(q["sip"], {"retransmissions_sent": 0, "retransmissions_received": 0,
                                    "rejected": 1, "malformed": 1, "unmatched": 1,
                                    "no_dialog": 1})
        by = self.rpc.completed("bystander", 30)
        self.assertEqual(by["counts"]["passed"], 200)
        self.assertNotIn("sip", by)

    def test_bad_parameters(self):
        def refused(op=None, **params):
            params.setdefault("operations", [op])
            return self.rpc.problems(**params)

        send = lambda **a: {"type": "sip.send", "arguments": a}
        receive = lambda **e: {"type": "sip.receive", "expect": e}
        cases = [
            (send(), ("arguments.method", "is required (a request), or status (a response)")),
            (send(method="INVITE", status=200, uri="sip:a@127.0.0.1"),
             ("arguments.status", "and method exclude each other: a request has a method, a "
                                  "response a status")),
            (send(method="IN VITE"),
             ("arguments.method", 'must be a SIP method (a token such as "INVITE"), got "IN VITE"')),
            (send(status=99), ("arguments.status", "must be between 100 and 699, got 99")),
            (send(method="INVITE", uri="nothing"),
             ("arguments.uri", 'must be a SIP URI ("sip:user@host:port"), got "nothing"')),
            (send(method="INVITE", target="127.0.0.1:5060"),
             ("arguments.target", 'must be an address "udp://IP:PORT" or "tcp://IP:PORT", got '
                                  '"127.0.0.1:5060"')),
            (send(method="INVITE", target="tcp://127.0.0.1:0"),
             ("arguments.target", 'must be an address "udp://IP:PORT" or "tcp://IP:PORT", got '
                                  '"tcp://127.0.0.1:0"')),
            (send(method="INVITE", headers={"X-A": "a\r\nb"}),
             ("arguments.headers.X-A", "must not contain CR or LF")),
            (send(method="INVITE", headers={"X A": "a"}),
             ("arguments.headers.X A", "is not a header name (a token)")),
            (send(method="INVITE", reason="OK"),
             ("arguments.reason", "is for a response (with status)")),
            (send(method="INVITE", other=1), ("arguments.other", "is unknown")),
            (receive(status=700), ("expect.status", "must be between 100 and 699, got 700")),
            (receive(status=[]), ("expect.status", "must list at least one status")),
            (receive(status=[180, "x"]), ("expect.status.1", 'must be a status 100-699, got "x"')),
            (receive(method=5), ("expect.method", "must be a string, got 5")),
            (receive(bodycontains="x"), ("expect.bodycontains", "is unknown")),
            (send(method="INVITE", headers=["X: y"]),
             ("arguments.headers", "must be an object, got an array")),
            (send(method="INVITE", headers={"X-A": 5}),
             ("arguments.headers.X-A", "must be a string, got 5")),
            (send(method="INVITE", body={"sdp": 1}),
             ("arguments.body", "must be a string, got an object")),
            (receive(header={"Subject": 1}), ("expect.header.Subject", "must be a string, got 1")),
            (receive(header="Subject"),
             ("expect.header", 'must be an object, got "Subject"')),
            (receive(body_contains=7), ("expect.body_contains", "must be a string, got 7")),
            ({"type": "sip.receive", "arguments": {"timeout": 0}},
             ("arguments.timeout", "must be greater than 0 and at most 3600, got 0")),
        ]
        for op, (field, problem) in cases:
            with self.subTest(op=op):
                problems = refused(op)
                self.assertIn((field, problem), problems)
        wanted = 'must be an address "udp://IP:PORT" or "tcp://IP:PORT" (port 0: an ephemeral one)'
        for local, problem in [
                ("127.0.0.1:5060", wanted + ', got "127.0.0.1:5060"'),
                ("udp://example.org:5060", wanted + ', got "udp://example.org:5060"'),
                ("udp://[::1:5060", wanted + ', got "udp://[::1:5060"'),
                ("tcp://127.0.0.1:65536", wanted + ', got "tcp://127.0.0.1:65536"')]:
            with self.subTest(local=local):
                self.assertEqual(refused(send(method="OPTIONS", uri="sip:a@127.0.0.1"),
                                         sip={"local": local}), [("sip.local", problem)])
        self.assertEqual(refused(send(method="OPTIONS", uri="sip:a@127.0.0.1"),
                                 sip={"remote": 1}), [("sip.remote", "is unknown")])
        self.assertEqual(refused(send(method="OPTIONS", uri="sip:a@127.0.0.1"), sip=5),
                         [("sip", "must be an object, got 5")])
        self.assertEqual(refused(send(method="OPTIONS", uri="sip:a@127.0.0.1"),
                                 sip={"local": 5060}),
                         [("sip.local", "must be a string, got 5060")])
        by = self.rpc.call("QueryTest", run_id="bystander")
        self.assertEqual(by["counts"]["aborted"] + by["counts"]["failed"], 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
