"""The hub's promises under random traffic (Hypothesis stateful test, on the real store):
two laptops push fresh operations, resend old batches whose answers were "lost", shuffle
batches, repeat operations inside one batch, leave gaps and fill them later, push invalid
operations; the station decides in between. After every step:

- each operation is in the ledger at most once, and every later answer is a ``duplicate``
  carrying the first answer's status and case code;
- ``acked_through`` is exactly the longest run 1..s the hub holds;
- one report per applied ``report.create``, case codes unique;
- the pull feed, read page by page from any cursor, is the same as read whole.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from fieldreport import ids
from fieldreport.canon import op_hash


class Laptop:
    def __init__(self, device: dict):
        self.device = device
        self.log: list[dict] = []   # every operation made, by seq
        self.sent: list[list[dict]] = []
        self.reports: list[str] = []

    def make(self, kind: str, rng: random.Random) -> dict:
        seq = len(self.log) + 1
        if kind == "create" or not self.reports:
            entity = ids.uuid7()
            level = "purple" if kind == "invalid" else "orange"
            payload = {"kind": "hazard", "category": "ebike", "level": level, "title": f"隐患 {seq}", "parties": [],
                       "photos": [], "ref": f"R-{seq:04d}", "status": "registered", "created_at": ids.now_iso()}
            type_ = "report.create"
            if level == "orange":
                self.reports.append(entity)
        elif kind == "note":
            type_, entity = "report.note", rng.choice(self.reports)
            payload = {"note_id": ids.uuid7(), "text": f"备注 {seq}"}
        elif kind == "status":
            type_, entity = "report.status", rng.choice(self.reports)
            payload = {"from": "registered", "to": "in_progress", "note": None}
        else:  # invalid
            type_, entity = "report.set", rng.choice(self.reports)
            payload = {"field": "level", "old": None, "new": "purple"}
        op = {"op_id": ids.uuid7(), "device_id": self.device["device_id"], "seq": seq, "clock": seq,
              "ts": ids.now_iso(), "type": type_, "entity": entity, "payload": payload,
              "prev_hash": self.log[-1]["hash"] if self.log else None}
        op["hash"] = op_hash(op)
        self.log.append(op)
        return op


class HubMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.first: dict[str, dict] = {}  # op_id -> the first answer

    @initialize(seed=st.integers(0, 2 ** 32))
    def setup(self, seed):
        import tempfile
        from pathlib import Path

        from fieldreport.hub import station
        from fieldreport.hub.store import HubStore

        self.rng = random.Random(seed)
        self.tmp = Path(tempfile.mkdtemp(prefix="hubsm-"))
        url = f"sqlite:///{self.tmp / 'hub.db'}"
        station.init(str(self.tmp), url)
        self.store = HubStore.open(url)
        self.laptops = []
        for officer in ("A1", "A2"):
            code = self.store.issue_code(officer, officer, "东村")["code"]
            dev_id = ids.uuid7()
            self.store.enroll(code, dev_id, None)
            self.laptops.append(Laptop({"device_id": dev_id, "officer_id": officer, "area": "东村"}))

    def teardown(self):
        if hasattr(self, "store"):
            self.store.close()

    def _push(self, lap: Laptop, batch: list[dict]) -> None:
        res = self.store.push(lap.device, batch)
        lap.sent.append(batch)
        for op, r in zip(batch, res["results"]):
            assert r["op_id"] == op["op_id"] and r["seq"] == op["seq"]
            seen = self.first.get(op["op_id"])
            if seen is None:
                assert r["status"] in ("applied", "rejected", "conflict"), r
                self.first[op["op_id"]] = r
            else:
                assert r["status"] == "duplicate" and r["original"] == seen["status"], (r, seen)
                assert r.get("case_code") == seen.get("case_code")
        held = {o["seq"] for o in self.store.station().device_ops(lap.device["device_id"])}
        run = 0
        while run + 1 in held:
            run += 1
        assert res["acked_through"] == run == self.store.acked_through(lap.device["device_id"])

    @rule(who=st.integers(0, 1), kinds=st.lists(st.sampled_from(["create", "note", "status", "invalid"]),
                                                min_size=1, max_size=6),
          copy=st.booleans(), shuffle=st.booleans(), hold_back=st.booleans())
    def push_new(self, who, kinds, copy, shuffle, hold_back):
        lap = self.laptops[who]
        batch = [lap.make(k, self.rng) for k in kinds]
        if hold_back and len(batch) > 1:  # a gap: the first of the batch goes later
            lap.held_back = getattr(lap, "held_back", []) + [batch.pop(0)]
        if copy:
            batch.append(self.rng.choice(batch))
        if shuffle:
            self.rng.shuffle(batch)
        self._push(lap, batch)

    @rule(who=st.integers(0, 1))
    def fill_gaps(self, who):
        lap = self.laptops[who]
        if getattr(lap, "held_back", None):
            batch, lap.held_back = lap.held_back, []
            self._push(lap, batch)

    @precondition(lambda self: any(lap.sent for lap in getattr(self, "laptops", [])))
    @rule(who=st.integers(0, 1), data=st.data())
    def resend_old_batch(self, who, data):
        lap = self.laptops[who]
        if lap.sent:
            self._push(lap, data.draw(st.sampled_from(lap.sent)))

    @rule(what=st.sampled_from(["route", "assign", "note", "close"]))
    def station_decides(self, what):
        reps = self.store.station().reports(limit=1000)
        if not reps:
            return
        rep = self.rng.choice(reps)
        st_ = self.store.station()
        if what == "route":
            st_.route(rep["id"], "fire_rescue", by="所长")
        elif what == "assign":
            st_.assign(rep["id"], self.rng.choice(["A1", "A2"]), by="所长")
        elif what == "note":
            st_.note(rep["id"], "请跟进", by="所长")
        elif "closed" in __import__("fieldreport.taxonomy", fromlist=["x"]).TRANSITIONS[rep["status"]]:
            st_.set_status(rep["id"], "closed", by="所长")

    @invariant()
    def one_report_per_applied_create(self):
        if not hasattr(self, "store"):
            return
        applied = {r["op_id"] for r in self.first.values() if r["status"] == "applied"}
        creates = [op for lap in self.laptops for op in lap.log if op["op_id"] in applied and op["type"] == "report.create"]
        reps = self.store.station().reports(limit=10000)
        assert len(reps) == len(creates)
        assert len({r["case_code"] for r in reps}) == len(reps)
        for lap in self.laptops:
            held = self.store.station().device_ops(lap.device["device_id"])
            assert len({o["op_id"] for o in held}) == len(held) == len({o["seq"] for o in held})
            assert {o["op_id"] for o in held} <= {o["op_id"] for o in lap.log}

    @invariant()
    def paged_pull_equals_whole(self):
        if not hasattr(self, "store"):
            return
        for lap in self.laptops:
            whole = self.store.pull(lap.device, 0, 5000)
            assert not whole["has_more"]
            cursors = [c["cursor"] for c in whole["changes"]]
            assert cursors == sorted(set(cursors))
            got, cursor = [], 0
            while True:
                page = self.store.pull(lap.device, cursor, self.rng.randint(1, 4))
                got += page["changes"]
                cursor = page["cursor"]
                if not page["has_more"]:
                    break
            assert got == whole["changes"] and cursor == whole["cursor"]


HubMachine.TestCase.settings = settings(max_examples=25, stateful_step_count=12, deadline=None,
                                        suppress_health_check=[HealthCheck.too_slow])
test_hub_stateful = HubMachine.TestCase

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
