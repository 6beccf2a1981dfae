# SPDX-License-Identifier: Apache-2.0
"""What the soak knows about every run it started, shared by its client threads.

A run is `live` until the soak has its final result: a QueryTest that returned it completed,
or a CancelTest. Only then may the daemon forget it; a -32001 for a run that is still live
here is remembered (`gone_at`) and is a lost run unless the final result turns up from
another thread's call (threads race: one may see the completed result while another's
QueryTest of the same run is already answered -32001).
"""

import collections
import random
import threading
import time


class RunRecord:
    def __init__(self, run_id, plan):
        self.run_id = run_id
        self.plan = plan
        self.started_at = time.monotonic()
        self.final = None          # the QueryTest / CancelTest result that ended it
        self.final_via = None      # "QueryTest" or "CancelTest"
        self.final_at = None       # monotonic time the final result arrived
        self.cancelled_by_us = False
        self.resumed = set()       # instance ids resumed with vars {"resumed": 1}
        self.uncertain = []        # calls whose effect is unknown (no answer)
        self.gone_at = None        # first -32001 while still live here
        self.paused = False        # a PauseTest succeeded and no UnpauseTest since
        self.queries = 0

    @property
    def live(self):
        return self.final is None


class RunBook:
    def __init__(self, strict_discard=True):
        # strict_discard: the daemon discards a run once it returned its final result
        # (completed_run_retention 0), so a second final result is a bug.
        self.strict_discard = strict_discard
        self.lock = threading.Lock()
        self.runs = {}
        self.violations = []
        self.stats = collections.Counter()
        self.latency = collections.defaultdict(list)   # method -> seconds per call

    def add(self, run_id, plan):
        with self.lock:
            if run_id in self.runs:
                self._violation(f"ExecuteTest returned run_id {run_id} twice")
                return None
            record = RunRecord(run_id, plan)
            self.runs[run_id] = record
            self.stats["runs executed"] += 1
            return record

    def live_runs(self):
        with self.lock:
            return [r for r in self.runs.values() if r.live]

    def pick_live(self, rng, predicate=None):
        candidates = [r for r in self.live_runs() if predicate is None or predicate(r)]
        return rng.choice(candidates) if candidates else None

    def finish(self, record, result, via):
        """Keeps the first final result of a run (a later one means a bug: the daemon must
        have discarded the run)."""
        with self.lock:
            if record.final is not None:
                if not self.strict_discard and via == "QueryTest":
                    return
                self._violation(f"{record.run_id}: a second final result via {via} after "
                                f"{record.final_via}")
                return
            record.final = result
            record.final_via = via
            record.final_at = time.monotonic()
            if via == "CancelTest" and result.get("cancelled") == 1:
                record.cancelled_by_us = True

    def gone(self, record):
        with self.lock:
            if record.final is None and record.gone_at is None:
                record.gone_at = time.monotonic()

    def count(self, what, n=1):
        with self.lock:
            self.stats[what] += n

    def timed(self, method, seconds):
        with self.lock:
            self.latency[method].append(seconds)

    def violation(self, text):
        with self.lock:
            self._violation(text)

    def _violation(self, text):
        self.violations.append(f"[{time.strftime('%H:%M:%S')}] {text}")


def seeded_rng(seed, index):
    return random.Random(f"{seed}-{index}")
