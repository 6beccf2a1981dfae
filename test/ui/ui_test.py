#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The operator page (daemon/ui/, docs/ui.md) in a real browser against the real daemon.

Each test class starts a daemon with an operator and an observer token, holding three runs:
`halting` (each instance GETs the daemon's own /health, so the first call's trace_log holds
protocol messages with their hex, then halts until resumed), `failing` (completed, with two
fail and two abort reasons) and `busy` (40 instances a second for ten minutes, two waiting
ops, a few failures). Headless Chromium then checks, numbered as in the page's brief:

 1. the runs list and its counts against ListTests, newest first, the filters;
 2. a run's charts drawn (pixels of the data lines' colours) and moving;
 3. resuming a halted instance with vars through the form (counts change in the page and
    in QueryTest), the form refusing what is not a JSON object, the hex dump of a message;
 4. pause, unpause and cancel by button (and a refused action's message);
 5. a broken stream resuming with Last-Event-ID without gap or repeat; the same at the
    HTTP level; leaving the page closing its stream;
 6. an observer sees no action anywhere;
 7. a wrong token's message, signing in and forgetting the token;
 8. the CSP and other headers on every file the page loads, no console error anywhere
    (every test's tearDown checks the console);
 9. a 390-pixel phone: nothing wider than the screen but the tables' scrolling boxes.

Screenshots of each view go to $TESTRUND_ARTEFACTS, else build/ui-screenshots/.

Run: PYTHONPATH=test/pylib /usr/bin/python3 test/ui/ui_test.py (meson sets PYTHONPATH and
TESTRUND_BINARY). Needs chromium, chromium-driver and python3-selenium (scripts/setup).
"""

import http.client
import json
import os
import re
import time
import unittest

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from daemon_process import DaemonProcess

OPERATOR = "ui-test-operator-7f3a"
OBSERVER = "ui-test-observer-41c9"
SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ARTEFACTS = (os.environ.get("TESTRUND_ARTEFACTS")
             or os.path.join(SOURCE_ROOT, "build", "ui-screenshots"))
CHROMEDRIVER = "/usr/bin/chromedriver"
DESKTOP = (1280, 800)
PHONE = (390, 844)
CSP = "default-src 'self'"
# The started/s and finished/s line colours of the rate chart (charts.js).
RATE_COLOURS = [(0x00, 0x72, 0xB2), (0x00, 0x9E, 0x73)]


def wait_for(predicate, what, timeout=10.0, interval=0.1, detail=None):
    """predicate()'s first truthy value; an exception from it counts as not yet (the page
    may be between two renders). On a timeout, detail() (when given) says what was seen."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except (WebDriverException, KeyError, IndexError, TypeError) as e:
            last_error = e
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}"
                         + (f" (last error: {last_error})" if last_error else "")
                         + (f"; seen: {detail()}" if detail else ""))


class RpcError(Exception):
    def __init__(self, error):
        super().__init__(f"{error['code']}: {error['message']}")
        self.code = error["code"]


class Rpc:
    """A small JSON-RPC 2.0 client over HTTP with a bearer token."""

    def __init__(self, port, token):
        self.port = port
        self.token = token

    def call(self, method, **params):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
            conn.request("POST", "/", body, {"Authorization": f"Bearer {self.token}",
                                             "Content-Type": "application/json"})
            reply = json.loads(conn.getresponse().read())
        finally:
            conn.close()
        if "error" in reply:
            raise RpcError(reply["error"])
        return reply["result"]

    def counts(self, run_id):
        return self.call("QueryTest", run_id=run_id)["counts"]

    def status(self, run_id):
        return self.call("QueryTest", run_id=run_id)["status"]


def raw_get(port, path, token, headers=None):
    """(status, lower-case headers, body text) of one GET."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        all_headers = dict(headers or {})
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        conn.request("GET", path, headers=all_headers)
        response = conn.getresponse()
        return (response.status, {k.lower(): v for k, v in response.getheaders()},
                response.read().decode("utf-8"))
    finally:
        conn.close()


def read_events(port, path, count, headers=None):
    """(status, headers, the first `count` events parsed) of an event stream, then closes it."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {OPERATOR}",
                                           **(headers or {})})
        response = conn.getresponse()
        found = {k.lower(): v for k, v in response.getheaders()}
        events, event = [], {}
        while len(events) < count:
            line = response.fp.readline().decode("utf-8").rstrip("\r\n")
            if line == "":
                if event:
                    events.append(event)
                event = {}
            elif not line.startswith(":"):
                field, _, value = line.partition(":")
                event[field] = value[1:] if value.startswith(" ") else value
        return response.status, found, events
    finally:
        conn.close()


def page_files(port):
    """Every file the page loads, fetched without a token: index.html, what it links, and
    what the modules import. {name: (status, headers, body)}."""
    found = {}
    pending = ["index.html"]
    while pending:
        name = pending.pop()
        if name in found:
            continue
        found[name] = raw_get(port, f"/ui/{name}", None)
        body = found[name][2]
        if name.endswith(".html"):
            pending += re.findall(r'(?:src|href)="([^"#:]+)"', body)
        elif name.endswith(".js") and not name.startswith("vendor/"):
            pending += [m.removeprefix("./") for m in re.findall(r"from '(\./[^']+)'", body)]
    return found


# ---- the runs ----

def halting_run(port):
    """Three instances that each GET the daemon's /health, then halt until resumed; op 3
    passes only when resumed with x = 5."""
    return {
        "run_id": "halting", "tags": ["ui", "halt"], "vars": {"x": 0}, "trace_level": 1,
        "distribution": {"type": "load", "total": 3, "backlog": 3},
        "operations": [
            {"type": "http", "arguments": {"url": f"http://127.0.0.1:{port}/health"},
             "expect": {"status": 200}},
            {"type": "comment", "text": "asking the operator"},
            {"type": "halt", "label": "ask-operator",
             "arguments": {"seconds": 600, "comment": "resume with vars {\"x\": 5}"}},
            {"type": "assert", "expression": "v.x == 5",
             "fail": "{'x should be 5, is ' .. tostring(v.x)}"},
        ],
    }


# 30 instances: those with instance % 3 ~= 0 fail op 1 with one of two texts; those with
# instance % 5 == 4 abort at op 2 with one of two texts. So 8 pass, 16 fail, 6 abort.
FAILING = {
    "run_id": "failing", "tags": ["ui", "reasons"],
    "distribution": {"type": "load", "total": 30, "backlog": 5},
    "operations": [
        {"type": "wait", "arguments": {"seconds": 0.01}},
        {"type": "assert", "expression": "instance % 3 == 0",
         "fail": "{'instance class ' .. instance % 3}"},
        {"type": "assert", "expression": "instance % 5 ~= 4",
         "abort": "{'fatal ' .. instance % 2}"},
    ],
}

# 40 instances a second for 10 minutes, each waiting 50-150 ms then 20 ms: both ops have
# latency in every interval; about 5 % fail.
BUSY = {
    "run_id": "busy", "tags": ["ui", "load"],
    "distribution": {"type": "linear", "rate": 40, "duration": 600},
    "operations": [
        {"type": "wait", "arguments": {"seconds": "{0.05 + math.random() * 0.1}"}},
        {"type": "wait", "label": "settle", "arguments": {"seconds": 0.02}},
        {"type": "assert", "expression": "math.random() > 0.05", "fail": "unlucky"},
    ],
    # One rule that holds, one that fails (the first wait takes 50-150 ms) without ending
    # the run: the page shows the daemon's verdict of each.
    "thresholds": [{"metric": "failed_ratio", "max": 0.5},
                   {"metric": "latency_p99", "op_idx": 0, "max": 0.01}],
}


def pausable(run_id):
    return {"run_id": run_id, "tags": ["ui"],
            "distribution": {"type": "linear", "rate": 20, "duration": 600},
            "operations": [{"type": "wait", "arguments": {"seconds": 0.05}}]}


# ---- the browser ----

def new_browser():
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                f"--window-size={DESKTOP[0]},{DESKTOP[1]}", "--lang=en-US"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


class Page:
    """The browser on the operator page, with the reads and waits the tests share."""

    def __init__(self, driver, base):
        self.driver = driver
        self.base = base  # http://127.0.0.1:PORT/ui/

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def open(self, fragment="#/", token=None):
        """Loads the page afresh, signed in with `token` (None: no token stored). The token
        is stored by a script that runs before the page's own, so the page never starts
        with the previous test's token (a stray 401 would be a console error)."""
        origin = json.dumps(self.base.split("/ui/")[0])
        store = f"sessionStorage.setItem('testrund.token', {json.dumps(token)});" if token else ""
        source = f"if (location.origin === {origin}) {{ sessionStorage.clear(); {store} }}"
        script = self.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",
                                             {"source": source})
        try:
            self.driver.get("about:blank")  # a new document even when only the fragment differs
            self.driver.get(self.base + fragment)
        finally:
            self.driver.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument",
                                        {"identifier": script["identifier"]})

    def resize(self, width, height):
        """Makes the viewport this size (the window also has the browser's bars)."""
        self.driver.set_window_size(width, height)
        bars = self.js("return window.outerHeight - window.innerHeight")
        if bars > 0:
            self.driver.set_window_size(width, height + bars)

    def emulate_phone(self, width, height):
        """A phone's viewport: its width, touch, and the page's meta viewport honoured."""
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": True})

    def stop_emulation(self):
        self.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})

    def find(self, css):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def all(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def text(self, css):
        return self.find(css).text

    def displayed(self, css):
        found = self.all(css)
        return bool(found) and found[0].is_displayed()

    def attribute(self, css, name):
        return self.find(css).get_attribute(name)

    def visible_buttons(self):
        return [b.text for b in self.all("button") if b.is_displayed()]

    def listed_runs(self):
        """The run ids of the runs table, top to bottom."""
        return [tr.get_attribute("data-run-id") for tr in self.all("#runs-body tr")]

    def row_counts(self, run_id):
        """The counts of a run's row in the runs table."""
        return self.js("""
            const row = document.querySelector(`tr[data-run-id="${arguments[0]}"]`);
            if (!row) return null;
            return Object.fromEntries([...row.querySelectorAll('[data-count]')]
                .map((cell) => [cell.dataset.count, Number(cell.dataset.value)]));""", run_id)

    def run_counts(self):
        """The count tiles of the one-run view."""
        return self.js("""
            return Object.fromEntries([...document.querySelectorAll('#counts [data-count]')]
                .filter((tile) => tile.dataset.value !== undefined)
                .map((tile) => [tile.dataset.count, Number(tile.dataset.value)]));""")

    def status(self):
        return self.attribute("#run-status", "data-status")

    def connection(self):
        return self.attribute("#connection", "data-state")

    def debug(self):
        return self.js("""const d = window.testrundDebug;
            return {pointIds: d.pointIds.slice(), connections: d.connections.slice(),
                    anomalies: d.anomalies.slice(), runId: d.runId};""")

    def pixels(self, canvas, colours=None):
        """How many pixels of `canvas` are drawn (opaque enough), or of one of `colours`."""
        return self.js("""
            const canvas = document.querySelector(arguments[0]);
            const colours = arguments[1];
            const data = canvas.getContext('2d')
                .getImageData(0, 0, canvas.width, canvas.height).data;
            let n = 0;
            for (let i = 0; i < data.length; i += 4) {
              if (data[i + 3] < 128) continue;
              if (!colours || colours.some(([r, g, b]) => Math.abs(data[i] - r) < 40
                  && Math.abs(data[i + 1] - g) < 40 && Math.abs(data[i + 2] - b) < 40)) n++;
            }
            return n;""", canvas, colours)

    def image(self, canvas):
        return self.js("return document.querySelector(arguments[0]).toDataURL()", canvas)

    def screenshot(self, name):
        os.makedirs(ARTEFACTS, exist_ok=True)
        self.driver.save_screenshot(os.path.join(ARTEFACTS, name))

    def console(self):
        return self.driver.get_log("browser")


class UiTestCase(unittest.TestCase):
    """A daemon and a browser shared by the tests of a class."""

    # Regexes of console errors the tests of a class expect; a test may add its own in
    # self.expected_console.
    allowed_console = ()

    @classmethod
    def setUpClass(cls):
        cls.daemon = DaemonProcess({"token": [f"{OPERATOR}:operator", f"{OBSERVER}:observer"],
                                    "completed_run_retention": 600})
        try:
            cls.rpc = Rpc(cls.daemon.port, OPERATOR)
            cls.rpc.call("ExecuteTest", **halting_run(cls.daemon.port))
            time.sleep(0.01)  # distinct start times: the list is newest first
            cls.rpc.call("ExecuteTest", **FAILING)
            time.sleep(0.01)
            cls.rpc.call("ExecuteTest", **BUSY)
            wait_for(lambda: cls.rpc.counts("halting")["halted"] == 3, "three halted instances")
            wait_for(lambda: cls.rpc.call("QueryTest", run_id="failing")["completed"] == 1,
                     "run 'failing' to complete")
            cls.driver = new_browser()
            cls.page = Page(cls.driver, f"{cls.daemon.url}/ui/")
        except BaseException:
            cls.daemon.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "driver", None):
            cls.driver.quit()
        cls.daemon.stop_clean()  # a sanitizer finding fails the suite

    def setUp(self):
        self.page.resize(*DESKTOP)
        self.page.console()  # drops what earlier tests left

    def tearDown(self):
        # Every console error fails the test that caused it: script errors, CSP violations
        # (Chromium reports them as errors), failed loads.
        allowed = self.allowed_console + getattr(self, "expected_console", ())
        severe = [e["message"] for e in self.page.console() if e["level"] == "SEVERE"
                  and not any(re.search(p, e["message"]) for p in allowed)]
        self.assertEqual(severe, [], "console errors")

    def open_run(self, run_id, token=OPERATOR):
        self.page.open(f"#/run/{run_id}", token)
        wait_for(lambda: self.page.run_counts().get("started") is not None, f"run {run_id}")

    def open_runs(self, token=OPERATOR):
        self.page.open("#/", token)
        wait_for(lambda: len(self.page.listed_runs()) >= 3, "the runs")


class OperatorPageTest(UiTestCase):

    def test_1_runs_are_listed_with_the_daemons_counts(self):
        page = self.page
        self.open_runs()
        listed = {r["run_id"]: r for r in self.rpc.call("ListTests")["runs"]}
        self.assertEqual(page.listed_runs(),
                         sorted(listed, key=lambda r: listed[r]["time_start"], reverse=True))
        for run_id in ("halting", "failing"):  # settled: equal exactly
            expected = {k: listed[run_id]["counts"][k]
                        for k in ("started", "finished", "passed", "failed", "aborted", "halted")}
            wait_for(lambda: page.row_counts(run_id) == expected, f"{run_id}'s counts {expected}",
                     detail=lambda: page.row_counts(run_id))
        self.assertEqual(page.row_counts("failing"), {"started": 30, "finished": 30, "passed": 8,
                                                      "failed": 16, "aborted": 6, "halted": 0})
        # busy moves: what the page shows lies between two QueryTests around the reading.
        before = self.rpc.counts("busy")["started"]
        wait_for(lambda: page.row_counts("busy")["started"] >= before, "busy's count")
        self.assertLessEqual(page.row_counts("busy")["started"], self.rpc.counts("busy")["started"])
        row = 'tr[data-run-id="failing"]'
        self.assertEqual(page.text(f"{row} .status"), "completed")
        self.assertIn("status-completed", page.attribute(f"{row} .status", "class"))
        self.assertEqual(page.text(f"{row} .percent"), "100.0 %")
        self.assertEqual([t.text for t in page.all(f"{row} .tag")], ["ui", "reasons"])
        rate = float(page.attribute('tr[data-run-id="busy"] [data-rate]', "data-rate"))
        self.assertTrue(20 <= rate <= 60, f"busy's start rate {rate}/s, expected about 40")
        page.screenshot("runs.png")

        # Filters narrow the list, live in the address and survive a reload.
        page.find("#filter-status option[value=completed]").click()
        wait_for(lambda: page.listed_runs() == ["failing"], "only the completed run")
        self.assertIn("#/?status=completed", self.driver.current_url)
        self.driver.refresh()
        wait_for(lambda: page.listed_runs() == ["failing"], "the filter kept across a reload")
        page.find("#filter-status option[value='']").click()
        page.find("#filter-tag").send_keys("HAL")
        wait_for(lambda: page.listed_runs() == ["halting"], "only the run tagged halt")
        page.find("#filter-tag").send_keys("-nothing")
        wait_for(lambda: page.displayed("#runs-empty"), "the empty-state text")
        self.assertEqual(page.text("#runs-empty"), "No run matches the filters.")

    def test_2_charts_are_drawn_and_move(self):
        page = self.page
        self.open_run("busy")
        wait_for(lambda: len(page.debug()["pointIds"]) >= 2, "two points")
        # The data lines are drawn: pixels of their colours, not just the axes and grid.
        wait_for(lambda: page.pixels("#chart-rates", RATE_COLOURS) > 100, "the rate lines")
        wait_for(lambda: len(page.all("canvas[id^=chart-latency-]")) == 2, "a chart per op")
        # Named from the stream's list of ops: type, and label when the op has one.
        self.assertEqual([e.text for e in page.all("#latency-charts h4")],
                         ["op 0 (wait)", 'op 1 (wait "settle")'])
        for canvas in ("#chart-latency-0", "#chart-latency-1"):
            self.assertGreater(page.pixels(canvas), 1000, f"{canvas} drawn")
        ids = page.debug()["pointIds"]
        image = page.image("#chart-rates")
        wait_for(lambda: len(page.debug()["pointIds"]) >= len(ids) + 2, "two more points")
        wait_for(lambda: page.image("#chart-rates") != image, "the rate chart redrawn")
        self.assertEqual(page.attribute("#charts", "data-points"),
                         str(len(page.debug()["pointIds"])))
        self.assertIn("unlucky", page.text("#first-fails"))
        # The daemon's thresholds, as it judged them at its latest check.
        wait_for(lambda: [r.get_attribute("data-ok") for r in page.all("#threshold-table tbody tr")]
                 == ["true", "false"], "one threshold holding, one failing")
        rows = [r.text for r in page.all("#threshold-table tbody tr")]
        self.assertIn("failed_ratio <= 0.5", rows[0])
        self.assertIn("holds", rows[0])
        self.assertIn("latency_p99[0] <= 0.01", rows[1])
        self.assertIn("fails", rows[1])
        page.screenshot("run.png")

    def test_3_resume_an_instance_with_vars(self):
        page = self.page
        self.open_run("halting")
        wait_for(lambda: len(page.all("#halted-body tr[data-instance]")) == 3, "3 halted rows")
        cells = page.all('#halted-body tr[data-instance="0"] td')
        self.assertEqual([c.text for c in cells[1:4]],
                         ["2", "ask-operator", 'resume with vars {"x": 5}'])
        # When it halted (today, local time) and the daemon's time left of the 600 s.
        self.assertRegex(cells[5].text, r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
        self.assertRegex(cells[6].text, r"^9 min \d\d s$")
        page.find('button[data-action=resume][data-instance="0"]').click()
        vars_box = wait_for(lambda: page.find("#resume-vars"), "the resume form")
        # Not an object, not JSON: refused in the page, nothing sent.
        vars_box.send_keys("[5]")
        page.find("#resume-submit").click()
        wait_for(lambda: page.displayed("#resume-error"), "the vars error")
        self.assertIn("must be a JSON object", page.text("#resume-error"))
        vars_box.clear()
        vars_box.send_keys('{"x": 5')
        page.find("#resume-submit").click()
        wait_for(lambda: "not valid JSON" in page.text("#resume-error"), "the JSON error")
        self.assertEqual(self.rpc.counts("halting")["halted"], 3)
        vars_box.clear()
        vars_box.send_keys('{"x": 5}')
        self.assertFalse(page.displayed("#resume-error"), "the error goes when the text changes")
        page.screenshot("resume.png")
        page.find("#resume-submit").click()
        wait_for(lambda: page.run_counts()["passed"] == 1 and page.run_counts()["halted"] == 2,
                 "the page to show instance 0 passed",
                 detail=lambda: (page.run_counts(), self.rpc.counts("halting")))
        counts = self.rpc.counts("halting")
        self.assertEqual((counts["passed"], counts["halted"], counts["finished"]), (1, 2, 1))
        self.assertEqual(page.text("#resume-message"), "Resumed instance 0.")
        self.assertEqual([tr.get_attribute("data-instance")
                          for tr in page.all("#halted-body tr[data-instance]")], ["1", "2"])
        # Another value reaches the instance too: its assert fails with the text it built.
        page.find('button[data-action=resume][data-instance="1"]').click()
        wait_for(lambda: page.find("#resume-vars"), "the form").send_keys('{"x": 4}')
        page.find("#resume-submit").click()
        wait_for(lambda: page.run_counts()["failed"] == 1, "the page to show instance 1 failed")
        self.assertEqual(self.rpc.counts("halting")["failed"], 1)
        wait_for(lambda: "x should be 5, is 4" in page.text("#first-fails"), "the fail reason")
        # The first call's trace_log: its http messages, their bytes as a hex dump.
        trace = page.text("#first-call-trace-log")
        self.assertIn("http.tester_to_sut", trace)
        self.assertIn("asking the operator", trace)
        page.find("#first-call-trace-log .hex-details summary").click()
        # The dump's text shows once the details element has opened (a busy browser may
        # take a moment).
        dump = wait_for(lambda: page.text("#first-call-trace-log pre.hex"), "the hex dump")
        self.assertRegex(dump, r"^00000000  47 45 54 20 2f 68 65 61  6c 74 68 20")
        self.assertIn("  GET /health HTTP\n", dump)  # the printable column
        self.assertIn("pass", page.text("#first-call-check-log"))

    def test_4_pause_unpause_and_cancel_by_button(self):
        page = self.page
        self.rpc.call("ExecuteTest", **pausable("pausable"))
        self.open_run("pausable")
        wait_for(lambda: page.displayed("#pause") and page.displayed("#cancel"), "the buttons")
        self.assertFalse(page.displayed("#unpause"))
        page.find("#pause").click()
        wait_for(lambda: page.status() == "paused", "the page to show paused")
        self.assertEqual(self.rpc.status("pausable"), "paused")
        wait_for(lambda: page.displayed("#unpause") and not page.displayed("#pause"),
                 "Unpause instead of Pause")
        page.find("#unpause").click()
        wait_for(lambda: page.status() == "running", "the page to show running")
        self.assertEqual(self.rpc.status("pausable"), "running")
        # A refused action shows the daemon's message: pause behind the page's back, then
        # press its Pause button (by script: it may already be hidden by the refresh).
        self.rpc.call("PauseTest", run_id="pausable")
        page.js("document.getElementById('pause').click()")
        wait_for(lambda: "-32006" in page.text("#action-message"), "the refusal")
        self.assertIn("PauseTest failed: run \"pausable\" is paused, not running",
                      page.text("#action-message"))
        wait_for(lambda: page.displayed("#unpause"), "Unpause after the refresh")
        # Cancel asks first; keeping the run changes nothing.
        page.find("#cancel").click()
        wait_for(lambda: page.displayed("#cancel-confirmation"), "the confirmation")
        page.find("#cancel-keep").click()
        self.assertFalse(page.displayed("#cancel-confirmation"))
        self.assertEqual(self.rpc.status("pausable"), "paused")
        page.find("#cancel").click()
        wait_for(lambda: page.displayed("#cancel-confirm"), "the confirmation")
        page.find("#cancel-confirm").click()
        wait_for(lambda: page.status() == "cancelled", "the page to show cancelled")
        wait_for(lambda: page.displayed("#run-ended"), "the run-ended banner")
        self.assertEqual(page.text("#status-reason"), "Cancelled by CancelTest.")
        self.assertEqual(page.visible_buttons(), [])
        with self.assertRaises(RpcError) as caught:
            self.rpc.call("QueryTest", run_id="pausable")
        self.assertEqual(caught.exception.code, -32001)  # cancelled runs are discarded
        self.assertEqual(page.connection(), "ended")

    def test_5a_a_broken_stream_resumes_without_a_gap(self):
        page = self.page
        self.open_run("busy")
        wait_for(lambda: len(page.debug()["pointIds"]) >= 3, "three points")
        # Read the last id and break the stream in one script: nothing arrives in between.
        last = page.js("""const ids = window.testrundDebug.pointIds;
                          const last = ids[ids.length - 1];
                          window.testrundDebug.interrupt();
                          return last;""")
        wait_for(lambda: page.connection() == "reconnecting", "the reconnecting indicator",
                 interval=0.02)
        self.assertIn("reconnecting", page.text("#connection"))
        wait_for(lambda: len(page.debug()["connections"]) == 2
                 and page.debug()["connections"][1]["first"], "the new connection's first event")
        wait_for(lambda: page.debug()["pointIds"][-1] >= last + 3, "three points after the break")
        debug = page.debug()
        self.assertEqual(debug["connections"][1]["lastEventId"], str(last))
        self.assertEqual(debug["connections"][1]["first"]["type"], "delta")
        ids = debug["pointIds"]
        self.assertEqual(ids, list(range(ids[0], ids[0] + len(ids))), "no gap, no repeat")
        self.assertEqual(debug["anomalies"], [])
        wait_for(lambda: page.connection() == "live", "live again")

    def test_5b_last_event_id_over_http(self):
        def held():
            status, headers, events = read_events(self.daemon.port, "/ui/events?run_id=busy", 1)
            self.assertEqual(status, 200)
            self.assertEqual(headers["content-type"], "text/event-stream")
            self.assertIn(CSP, headers["content-security-policy"])
            self.assertEqual(events[0]["event"], "snapshot")
            ids = [p["id"] for p in json.loads(events[0]["data"])["points"]]
            self.assertEqual(events[0].get("id"), str(ids[-1]) if ids else None)
            return ids if len(ids) >= 4 else None
        n = wait_for(held, "four points held", interval=0.5)[-3]
        # The first event after Last-Event-ID N is a delta from N + 1, the next one follows.
        _, _, (first, second) = read_events(self.daemon.port, "/ui/events?run_id=busy", 2,
                                            {"Last-Event-ID": str(n)})
        self.assertEqual(first["event"], "delta")
        ids = [p["id"] for p in json.loads(first["data"])["points"]]
        self.assertEqual(ids, list(range(n + 1, n + 1 + len(ids))))
        self.assertGreaterEqual(len(ids), 2)
        self.assertEqual(first["id"], str(ids[-1]))
        self.assertEqual(second["event"], "delta")
        self.assertEqual([p["id"] for p in json.loads(second["data"])["points"]], [ids[-1] + 1])
        self.assertEqual(second["id"], str(ids[-1] + 1))
        # An unknown run: 404 with the daemon's message; no token: 401.
        status, _, body = raw_get(self.daemon.port, "/ui/events?run_id=nope", OPERATOR)
        self.assertEqual(status, 404)
        self.assertIn('"nope"', json.loads(body)["error"])
        status, _, _ = raw_get(self.daemon.port, "/ui/events", None)
        self.assertEqual(status, 401)

    def test_5c_leaving_the_page_closes_its_stream(self):
        # A page left (here for about:blank, which keeps it in the back/forward cache) must
        # not hold its stream open: browsers allow six connections per host, so seven
        # visits would leave no room for the page's next call.
        for _ in range(7):
            self.open_run("busy")
            wait_for(lambda: self.page.debug()["connections"], "the stream")
        started = time.monotonic()
        info = self.driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            fetch('../', {method: 'POST', headers: {'Authorization': 'Bearer ' + arguments[0]},
                          body: '{"jsonrpc":"2.0","id":1,"method":"GetServerInfo"}'})
              .then((r) => r.json()).then((r) => done(r.result), (e) => done(String(e)));""",
                                                OPERATOR)
        self.assertEqual(info["role"], "operator")
        self.assertLess(time.monotonic() - started, 2.0)

    def test_5d_a_completed_run_repeats_no_point(self):
        # The first page on a completed run: its deltas add no point to the snapshot's (a
        # run's sent point id moves on while nobody watches).
        self.open_run("failing")
        time.sleep(2.5)  # two deltas
        self.assertEqual(self.page.debug()["anomalies"], [])
        self.assertEqual(self.page.debug()["pointIds"], [1])

    def test_5e_an_unknown_run_is_said_so(self):
        self.expected_console = (r"events\?run_id=no-such-run - .* status of 404",)
        page = self.page
        page.open("#/run/no-such-run", OPERATOR)
        wait_for(lambda: page.displayed("#run-error"), "the error")
        self.assertEqual(page.text("#run-error"), 'This run cannot be shown: unknown run_id '
                         '"no-such-run" (never existed, discarded, or cancelled)')
        self.assertEqual(page.connection(), "failed")
        self.assertFalse(page.displayed("#run-status"))
        self.assertEqual(page.visible_buttons(), [])  # nothing to act on

    def test_8_page_files_carry_the_csp_and_the_page_logs_no_error(self):
        files = page_files(self.daemon.port)
        for name in ("index.html", "style.css", "app.js", "favicon.svg", "vendor/chart.min.js"):
            self.assertIn(name, files)
        for name, (status, headers, body) in files.items():
            with self.subTest(file=name):
                self.assertEqual(status, 200)
                self.assertIn(CSP, headers.get("content-security-policy", ""))
                self.assertEqual(headers.get("x-content-type-options"), "nosniff")
                expected = {".html": "text/html", ".js": "text/javascript", ".css": "text/css",
                            ".svg": "image/svg+xml"}[os.path.splitext(name)[1]]
                self.assertTrue(headers["content-type"].startswith(expected))
                if name.startswith("vendor/"):
                    continue
                self.assertIn("SPDX-License-Identifier: Apache-2.0", body[:200])
                # What the CSP would refuse anyway, and HTML built from strings.
                self.assertNotRegex(body, r"<style|\sstyle=|<script>|eval\(|new Function")
                self.assertNotRegex(body, r"innerHTML|outerHTML|insertAdjacentHTML")
        # Both views load and run with no console error (tearDown checks the console).
        self.open_runs()
        self.assertEqual(self.page.js("return document.compatMode"), "CSS1Compat")
        self.open_run("failing")
        wait_for(lambda: self.page.displayed("#first-aborts"), "the reasons")
        self.assertEqual(self.page.js("return typeof Chart"), "function")

    def test_9_phone_width(self):
        self.page.emulate_phone(*PHONE)
        try:
            self.check_phone_views()
        finally:
            self.page.stop_emulation()

    def check_phone_views(self):
        page = self.page
        self.open_runs()
        width = page.js("return window.innerWidth")
        self.assertEqual(width, PHONE[0])
        self.assertLessEqual(page.js("return document.documentElement.scrollWidth"), width + 2,
                             "the runs view is no wider than the phone")
        # The table is wider, inside its own scrolling box.
        box = page.js("""const b = document.querySelector('#runs-table').parentElement;
                         return [b.scrollWidth, b.clientWidth, getComputedStyle(b).overflowX];""")
        self.assertGreater(box[0], box[1])
        self.assertEqual(box[2], "auto")
        page.screenshot("phone.png")
        page.find('tr[data-run-id="busy"] a').click()
        wait_for(lambda: page.run_counts().get("started") is not None, "the run view")
        wait_for(lambda: page.debug()["pointIds"], "a point")
        self.assertLessEqual(page.js("return document.documentElement.scrollWidth"), width + 2,
                             "the run view is no wider than the phone")
        chart = page.js("return document.querySelector('#chart-rates').getBoundingClientRect()")
        self.assertTrue(width * 0.6 < chart["width"] <= width, chart)
        page.screenshot("phone-run.png")
        self.driver.back()
        wait_for(lambda: len(page.listed_runs()) >= 3, "the runs again")


class AuthPageTest(UiTestCase):
    # Chromium logs every 401 answer as a console error: expected here.
    allowed_console = (r"status of 401 \(Unauthorized\)",)

    def test_6_an_observer_sees_no_action(self):
        page = self.page
        self.open_runs(OBSERVER)
        self.assertEqual(page.text("#role"), "observer")
        self.assertEqual(page.visible_buttons(), [])
        page.screenshot("observer.png")
        for run_id in ("busy", "halting"):
            self.open_run(run_id, OBSERVER)
            if run_id == "halting":
                wait_for(lambda: page.all("#halted-body tr[data-instance]"), "halted rows")
            self.assertEqual(page.all("[data-action], #actions, #pause, #unpause, #cancel, "
                                      ".resume, #resume-form"), [], "no action in the DOM")
            self.assertEqual(page.visible_buttons(), [])
        page.js("document.getElementById('halted').scrollIntoView()")
        page.screenshot("observer-run.png")

    def test_7_a_wrong_token_is_refused_clearly(self):
        page = self.page
        page.open("#/", None)
        wait_for(lambda: page.displayed("#signin"), "the token form")
        self.assertEqual(page.text("#signin-title"), "This daemon needs a token")
        self.assertFalse(page.displayed("#signin-message"))
        page.find("#token-input").send_keys("not-the-token")
        page.find("#signin-submit").click()
        wait_for(lambda: page.displayed("#signin-message"), "the refusal")
        self.assertEqual(page.text("#signin-message"),
                         "The token was refused: Authentication failed: token invalid")
        self.assertTrue(page.displayed("#token-input"))
        self.assertIsNone(page.js("return sessionStorage.getItem('testrund.token')"))
        page.screenshot("wrong-token.png")
        # The right one signs in; "Forget token" signs out again.
        page.find("#token-input").send_keys(OPERATOR)
        page.find("#signin-submit").click()
        wait_for(lambda: len(page.listed_runs()) >= 3, "the runs")
        self.assertEqual(page.text("#role"), "operator")
        self.assertEqual(page.js("return sessionStorage.getItem('testrund.token')"), OPERATOR)
        page.find("#forget-token").click()
        wait_for(lambda: page.displayed("#signin"), "the token form after forgetting")
        self.assertIsNone(page.js("return sessionStorage.getItem('testrund.token')"))
        self.assertFalse(page.displayed("#signin-message"))


if __name__ == "__main__":
    started = time.monotonic()
    try:
        unittest.main(verbosity=2)
    finally:
        print(f"screenshots: {ARTEFACTS} ({time.monotonic() - started:.1f} s)")
