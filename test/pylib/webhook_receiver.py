# SPDX-License-Identifier: Apache-2.0
"""A webhook receiver for the tests of reporters (docs/api.md#reporters). Python 3 standard
library only."""

import http.server
import threading
import time


class Receiver:
    """An HTTP server on 127.0.0.1 (on `port`, or any free one) recording every POST (path,
    headers, body, when); it answers 503 to the first `refuse` requests, then 204."""

    def __init__(self, refuse=0, port=0):
        self.requests = []
        self.refuse = refuse
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver.lock:
                    receiver.requests.append((self.path, dict(self.headers), body,
                                              time.monotonic()))
                    refused = len(receiver.requests) <= receiver.refuse
                self.send_response(503 if refused else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def count(self):
        with self.lock:
            return len(self.requests)

    def close(self):
        self.server.shutdown()
        self.server.server_close()
