#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Data rows through the real daemon (docs/api.md#data-rows, docs/operations.md#data-rows).

- Each form (JSON rows with their types, CSV text with RFC 4180 quoting, a CSV file under
  data_dir) and each mode (sequential, random reproducible with `seed`, unique, and unique
  without a total ending when the rows are used up); `d`, `d["a name"]`, `d_row`,
  `pairs(d)`, `{...}` templates; QueryTest's `data`.
- What an instance may not do: assign to `d` (aborts, naming `d` read-only), read a column
  that does not exist.
- Every bad input: each → -32602 with its field and text, and the daemon still serving
  the run next to it (nothing disturbed): wrong forms, CSV problems with row/line/column,
  JSON rows of the wrong length, no rows, limits (max_data_bytes, max_data_rows), data_mode,
  unique with too few rows, file names that are absolute, have `..`, lead out of data_dir
  through a link, name a FIFO or a directory or nothing, and no data_dir at all.
- Sharing: 100,000 halted instances that each read a 20,000-row data set cost at most
  2× the data's size plus 600 B per instance of RSS (one copy of the rows for the run);
  not checked in the sanitizer build (TESTRUND_SANITIZED=1), where RSS means nothing.

Python 3 standard library only; TESTRUND_BINARY names the daemon (meson sets it).
"""

import os
import shutil
import tempfile
import unittest

from daemon_process import DaemonProcess
from polling import wait_for
from rpc_client import Rpc


EVAL_ROW = [{"type": "eval",
             "expression": "g['r' .. instance] = tostring(d.msisdn) .. '|' .. d_row"}]


class DataRowsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.data_dir = tempfile.mkdtemp(prefix="testrund_data_")
        cls.outside = tempfile.mkdtemp(prefix="testrund_outside_")
        cls.daemon = DaemonProcess({"data_dir": cls.data_dir, "completed_run_retention": 600,
                                    "max_data_rows": 100000, "max_data_bytes": "4M"})
        cls.rpc = Rpc(cls.daemon.port)
        # A long run beside every refused request: nothing may disturb it.
        cls.rpc.call("ExecuteTest", run_id="bystander",
                     distribution={"type": "linear", "rate": 20, "duration": 600},
                     data={"columns": ["n"], "rows": [[1], [2]]},
                     operations=[{"type": "eval", "expression": "g.last = d.n"}])

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop_clean()
        shutil.rmtree(cls.data_dir, ignore_errors=True)
        shutil.rmtree(cls.outside, ignore_errors=True)

    def write(self, name, text, folder=None):
        path = os.path.join(folder or self.data_dir, name)
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        return path

    def finished(self, run_id):
        wait_for(lambda: self.rpc.call("QueryTest", run_id=run_id)["completed"] == 1
                 if run_id in [r["run_id"] for r in self.rpc.call("ListTests")["runs"]]
                 else True, f"run {run_id} to complete")
        return self.rpc.call("QueryTest", run_id=run_id)

    def run_rows(self, run_id, total, **params):
        params.setdefault("operations", EVAL_ROW)
        self.rpc.call("ExecuteTest", run_id=run_id,
                      distribution={"type": "load", "total": total}, **params)
        return self.finished(run_id)

    def assert_bystander_unharmed(self):
        status = self.rpc.call("QueryTest", run_id="bystander")
        self.assertEqual(status["status"], "running")
        self.assertEqual(status["counts"]["aborted"], 0)

    # -- forms and modes ------------------------------------------------------------------

    def test_json_rows_keep_their_types(self):
        result = self.run_rows("json-types", 1, data={
            "columns": ["s", "i", "f", "t", "n", "obj", "my col"],
            "rows": [["x", 42, 2.5, True, None, {"a": [1, 2]}, "spaced"]]},
            operations=[{"type": "eval", "expression":
                         "g.types = type(d.s) .. math.type(d.i) .. math.type(d.f) .. "
                         "tostring(d.t) .. tostring(d.n) .. d.obj.a[2] .. d['my col']"}])
        self.assertEqual(result["globals"]["types"], "stringintegerfloattruenil2spaced")
        self.assertEqual(result["data"], {"rows": 1, "columns": ["s", "i", "f", "t", "n", "obj",
                                                                  "my col"],
                                          "mode": "sequential", "source": "rows"})

    def test_csv_text_sequential_with_quotes_and_crlf(self):
        csv = ('msisdn,name\r\n447700900001,"Smith, J"\r\n447700900002,"say ""hi"""\r\n'
               '447700900003,"two\nlines"\r\n')
        result = self.run_rows("csv-seq", 7, data={"csv": csv}, operations=[
            {"type": "eval", "expression": "g['r' .. instance] = d.msisdn .. '|' .. d_row"},
            {"type": "eval", "expression": "g['n' .. instance] = d.name"}])
        g = result["globals"]
        self.assertEqual([g[f"r{k}"] for k in range(7)],
                         [f"44770090000{k % 3 + 1}|{k % 3 + 1}" for k in range(7)])
        self.assertEqual([g["n0"], g["n1"], g["n2"]], ["Smith, J", 'say "hi"', "two\nlines"])
        self.assertEqual(result["data"]["source"], "csv")

    def test_file_random_is_reproducible_with_seed(self):
        self.write("numbers.csv", "msisdn\n" + "".join(f"{k}\n" for k in range(1000)))
        runs = [self.run_rows(f"random-{n}", 50, data={"file": "numbers.csv"},
                              data_mode="random", seed=7)["globals"] for n in range(2)]
        self.assertEqual(runs[0], runs[1])
        rows = {value.split("|")[1] for value in runs[0].values()}
        self.assertGreater(len(rows), 40)  # 50 draws from 1000 rows: few repeats
        other = self.run_rows("random-other", 50, data={"file": "numbers.csv"},
                              data_mode="random", seed=8)["globals"]
        self.assertNotEqual(other, runs[0])
        status = self.rpc.call("QueryTest", run_id="random-other")
        self.assertEqual(status["data"]["source"], "file:numbers.csv")
        self.assertEqual(status["data"]["mode"], "random")

    def test_unique_gives_each_instance_its_own_row(self):
        rows = [[f"4477{k:08d}"] for k in range(30)]
        result = self.run_rows("unique", 30, data={"columns": ["msisdn"], "rows": rows},
                               data_mode="unique")
        self.assertEqual(sorted(result["globals"].values()),
                         sorted(f"{r[0]}|{k + 1}" for k, r in enumerate(rows)))

    def test_unique_without_a_total_ends_when_the_rows_are_used_up(self):
        self.rpc.call("ExecuteTest", run_id="unique-duration", data_mode="unique",
                      data={"csv": "msisdn\n1\n2\n3\n4\n5\n"},
                      distribution={"type": "linear", "rate": 100, "duration": 60},
                      operations=EVAL_ROW)
        result = self.finished("unique-duration")
        self.assertEqual(result["status"], "completed")
        self.assertEqual(result["counts"]["started"], 5)
        self.assertLess(result["duration"], 5)

    def test_templates_pairs_and_read_only(self):
        result = self.run_rows("pairs", 2, data={"csv": "a,b\n1,2\n3,4\n"}, operations=[
            {"type": "eval", "expression":
             "local s = '' for k, v in pairs(d) do s = s .. k .. '=' .. v .. ';' end "
             "g['p' .. instance] = s"},
            {"type": "assert", "expression": "true", "pass": "{'row ' .. d_row .. ' a=' .. d.a}"},
        ])
        self.assertEqual(result["globals"], {"p0": "a=1;b=2;", "p1": "a=3;b=4;"})
        self.assertEqual(result["first_call_summary"]["check_log"][0]["text"], "row 1 a=1")

        aborted = self.run_rows("read-only", 3, data={"csv": "a\n1\n"}, operations=[
            {"type": "eval", "expression": "d.a = 2"}])
        self.assertEqual(aborted["counts"]["aborted"], 3)
        self.assertIn("d is read-only", aborted["first_aborts"][0]["text"])
        missing = self.run_rows("no-column", 1, data={"csv": "msisdn\n1\n"}, operations=[
            {"type": "eval", "expression": "v.x = d.msisnd"}])
        self.assertIn('d has no column "msisnd"', missing["first_aborts"][0]["text"])
        nodata = self.run_rows("no-data", 1, operations=[
            {"type": "assert", "expression": "d == nil and d_row == nil"}])
        self.assertEqual(nodata["counts"]["passed"], 1)

    # -- bad input ------------------------------------------------------------------------

    def refused(self, expected, **params):
        params.setdefault("operations", EVAL_ROW)
        problems = self.rpc.problems(**params)
        self.assertIn(expected, problems)
        self.assert_bystander_unharmed()

    def test_wrong_forms_and_modes(self):
        self.refused(("data", 'must be one of {"columns", "rows"}, {"csv"} or {"file"}, got 5'),
                     data=5)
        self.refused(("data", 'must be one of {"columns", "rows"}, {"csv"} or {"file"}'),
                     data={})
        self.refused(("data", 'must be one of {"columns", "rows"}, {"csv"} or {"file"}, '
                              'not several'), data={"csv": "a\n1\n", "file": "x.csv"})
        self.refused(("data.rows", "is required"), data={"columns": ["a"]})
        self.refused(("data.csv", "must be a string, got 3"), data={"csv": 3})
        self.refused(("data_mode", 'must be one of "sequential", "random", "unique", got '
                                   '"shuffled"'), data={"csv": "a\n1\n"}, data_mode="shuffled")
        self.refused(("data_mode", "needs data"), data_mode="unique")

    def test_csv_and_row_problems_name_row_line_and_column(self):
        self.refused(("data.csv", "row 2 (line 3): 1 field, the header has 2"),
                     data={"csv": "a,b\n1,2\n3\n"})
        self.refused(("data.csv", 'row 1 (line 2), column 2 ("b"): text after the closing '
                                  'quote of a quoted field'),
                     data={"csv": 'a,b\n1,"2"x\n'})
        self.refused(("data.csv", 'column 2 ("a"): duplicate name (also column 1)'),
                     data={"csv": "a,a\n1,2\n"})
        self.refused(("data.csv", "column 2: empty name"), data={"csv": "a,\n1,2\n"})
        self.refused(("data.csv", "has no rows (only the header)"), data={"csv": "a,b\n"})
        self.refused(("data", "row 2 (rows[1]): 1 value, columns has 2"),
                     data={"columns": ["a", "b"], "rows": [[1, 2], [3]]})
        self.refused(("data.csv", "over max_data_rows (100000) at row 100001 (line 100002)"),
                     data={"csv": "a\n" + "1\n" * 100001})
        big = "a\n" + "x" * (4 * 1024 * 1024) + "\n"
        self.refused(("data.csv", f"{len(big)} bytes, over max_data_bytes (4194304)"),
                     data={"csv": big})

    def test_unique_needs_a_row_per_instance(self):
        self.refused(("data_mode", '"unique" reads one row per instance: 5 instances need 5 '
                                   'rows, the data has 2'),
                     data={"csv": "a\n1\n2\n"}, data_mode="unique",
                     distribution={"type": "load", "total": 5})

    def test_file_names_stay_inside_data_dir(self):
        secret = self.write("secret.csv", "a\n1\n", folder=self.outside)
        os.symlink(secret, os.path.join(self.data_dir, "link.csv"))
        os.mkfifo(os.path.join(self.data_dir, "fifo.csv"))
        os.mkdir(os.path.join(self.data_dir, "folder"))
        rule = 'must name a file under data_dir (relative, without ".."), got "{}"'
        self.refused(("data.file", rule.format(secret)), data={"file": secret})
        self.refused(("data.file", rule.format("../x.csv")), data={"file": "../x.csv"})
        self.refused(("data.file", rule.format("a/../../x.csv")), data={"file": "a/../../x.csv"})
        self.refused(("data.file", '"link.csv" leads out of data_dir (through a link)'),
                     data={"file": "link.csv"})
        self.refused(("data.file", '"fifo.csv" is not a regular file'), data={"file": "fifo.csv"})
        self.refused(("data.file", '"folder" is not a regular file'), data={"file": "folder"})
        self.refused(("data.file", '"none.csv": no such file in data_dir'),
                     data={"file": "none.csv"})
        self.write("huge.csv", "a\n" + "1\n" * (2 * 1024 * 1024 + 1))
        self.refused(("data.file", f'"huge.csv": {2 + 2 * (2 * 1024 * 1024 + 1)} bytes, over '
                                   'max_data_bytes (4194304)'), data={"file": "huge.csv"})


class NoDataDirTest(unittest.TestCase):
    def test_a_file_needs_data_dir(self):
        with DaemonProcess() as daemon:
            problems = Rpc(daemon.port).problems(data={"file": "users.csv"}, operations=EVAL_ROW)
            self.assertEqual(problems, [("data.file", 'no data_dir is configured on the daemon: '
                                         'give the rows in the request ("rows" or "csv")')])


class SharedRowsTest(unittest.TestCase):
    """One copy of the rows for the run: 100,000 halted instances reading a 20,000-row data
    set cost at most 2x the data's size plus 600 B per instance (docs/performance.md,
    scenario 9)."""

    def test_halted_instances_share_one_copy(self):
        folder = tempfile.mkdtemp(prefix="testrund_data_")
        try:
            csv = "msisdn,imsi,name\n" + "".join(
                f"4477{k:08d},23415{k:010d},subscriber number {k}\n" for k in range(20000))
            with open(os.path.join(folder, "subs.csv"), "w", encoding="utf-8") as f:
                f.write(csv)
            with DaemonProcess({"data_dir": folder}) as daemon:
                rpc = Rpc(daemon.port)
                before = daemon.rss_kib()
                instances = 100000
                rpc.call("ExecuteTest", run_id="shared", data={"file": "subs.csv"},
                         distribution={"type": "load", "total": instances,
                                       "backlog": instances},
                         operations=[
                             {"type": "assert", "expression": "#d.msisdn == 12 and d_row > 0"},
                             {"type": "halt", "arguments": {"seconds": 600}}])
                wait_for(lambda: rpc.call("QueryTest", run_id="shared")["counts"]["halted"]
                         == instances, "every instance halted", timeout=120)
                grown = (daemon.rss_kib() - before) * 1024
                budget = 2 * len(csv) + 600 * instances
                print(f"RSS grew {grown / 1e6:.1f} MB for {instances} halted instances reading "
                      f"{len(csv) / 1e6:.2f} MB of rows (budget {budget / 1e6:.1f} MB)")
                if os.environ.get("TESTRUND_SANITIZED") != "1":
                    self.assertLess(grown, budget)
                counts = rpc.call("QueryTest", run_id="shared")["counts"]
                self.assertEqual(counts["failed"] + counts["aborted"], 0)
                rpc.call("CancelTest", run_id="shared")
                daemon.stop_clean()
        finally:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
