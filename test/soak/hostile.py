# SPDX-License-Identifier: Apache-2.0
"""Hostile connections the soak opens now and then, while the runs go on.

Each kind does one bad thing on a fresh connection and checks the daemon's exact answer when
it owes one (docs/api.md §1-2); the soak then checks that the daemon still answers and that
no run was disturbed. A kind returns None when all was as documented, else a problem text.
"""

import json
import socket
import struct

TIMEOUT = 10.0


def _connect(address):
    host, port = address
    return socket.create_connection((host, port), timeout=TIMEOUT)


def _read_all(sock):
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def _framed_error(address, payload):
    """Sends raw `payload` (prefix included), returns the framed response's error code, or
    a problem text."""
    with _connect(address) as s:
        s.sendall(payload)
        data = _read_all(s)
    if len(data) < 4:
        return f"no framed response ({len(data)} bytes)"
    (length,) = struct.unpack(">I", data[:4])
    if length != len(data) - 4:
        return f"framed response length {length}, got {len(data) - 4} bytes"
    try:
        return json.loads(data[4:])["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return f"not a JSON-RPC error: {data[4:200]!r}"


def _expect_framed_code(address, payload, code):
    got = _framed_error(address, payload)
    return None if got == code else f"expected error {code}, got {got}"


def _frame(body):
    return struct.pack(">I", len(body)) + body


def _send_and_close(address, data):
    """Sends `data` on a fresh connection and closes it: the daemon owes no answer."""
    with _connect(address) as s:
        s.sendall(data)
    return None


def huge_length_prefix(address, token):
    return _expect_framed_code(address, struct.pack(">I", 0xFFFFFFFF), -32700)


def zero_length_prefix(address, token):
    return _expect_framed_code(address, struct.pack(">I", 0), -32700)


def garbage_json(address, token):
    return _expect_framed_code(address, _frame(b'{"jsonrpc": "2.0", "id": 1, "method": '), -32700)


def invalid_utf8(address, token):
    return _expect_framed_code(
        address, _frame(b'{"jsonrpc":"2.0","id":1,"method":"GetServerInfo","x":"\xff\xfe"}'),
        -32700)


def nesting_bomb(address, token):
    return _expect_framed_code(address, _frame(b"[" * 100000), -32700)


def wrong_token(address, token):
    if token is None:
        return None  # no tokens configured: nothing to refuse
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "CancelTest",
                       "params": {"run_id": "x"}, "auth": "not-" + token}).encode()
    return _expect_framed_code(address, _frame(body), -32010)


def lying_length_prefix(address, token):
    """Announces 1000 bytes, sends 10 and closes: nothing to answer."""
    return _send_and_close(address, struct.pack(">I", 1000) + b'{"jsonrpc"')


def half_prefix(address, token):
    return _send_and_close(address, b"\x00\x00")


def connect_and_close(address, token):
    _connect(address).close()
    return None


def http_truncated_body(address, token):
    return _send_and_close(
        address, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"jsonrpc\"")


def http_garbage(address, token):
    with _connect(address) as s:
        s.sendall(b"GARBAGE / NOPE\r\n\r\n")
        data = _read_all(s)
    return None if data.startswith(b"HTTP/1.1 400 ") else f"expected HTTP 400, got {data[:60]!r}"


def http_close_mid_response(address, token):
    """Asks for a long answer and closes without reading it."""
    body = b'{"jsonrpc":"2.0","id":1,"method":"ListTests","params":{}}'
    auth = f"Authorization: Bearer {token}\r\n".encode() if token else b""
    with _connect(address) as s:
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n" + auth +
                  f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST
    return None


KINDS = [huge_length_prefix, zero_length_prefix, garbage_json, invalid_utf8, nesting_bomb,
         wrong_token, lying_length_prefix, half_prefix, connect_and_close, http_truncated_body,
         http_garbage, http_close_mid_response]
