"""The harness itself must be able to fail: toy protocols with the bugs it looks for."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest

from pqmpc.errors import ProtocolError

from . import engine, protocols
from .engine import Mutation


def _toy(bug: str):
    """Two rounds of one JSON message each way; role 0 has ``bug`` in its second receive."""

    def party0(ch, rng):
        ch.send_json({"round": 0, "data": rng.bytes(4).hex()})
        first = ch.recv_json("toy step 1")
        ch.send_json({"round": 1})
        raw = ch.recv()
        if raw == json.dumps({"round": 1}, separators=(",", ":")).encode():
            return first
        if bug == "raw-json":
            return json.loads(raw)  # JSONDecodeError / RecursionError escape
        if bug == "hang":
            while not ch.closed:  # released when the harness gives up and closes the channel
                time.sleep(0.05)
        if bug == "alloc":
            return bytearray(96 << 20)
        if bug == "alloc-untouched":  # what tracemalloc sees and the resident set does not
            return np.empty(96 << 20, dtype=np.uint8)
        if bug == "thread":
            t = threading.Thread(target=lambda: 1 / 0, name="toy-helper")
            t.start()
            t.join()
        raise ProtocolError("toy step 2: unexpected message")

    def party1(ch, rng):
        ch.send_json({"round": 0, "data": rng.bytes(4).hex()})
        first = ch.recv_json("toy step 1")
        ch.send_json({"round": 1})
        ch.recv_json("toy step 2")
        return first

    return party0, party1


@pytest.fixture
def toy(monkeypatch):
    def make(bug):
        name = f"toy-{bug}"
        p = protocols.Protocol(name, ("a", "b"), lambda: _toy(bug))
        monkeypatch.setitem(protocols.BY_NAME, name, p)
        monkeypatch.setitem(engine.BY_NAME, name, p)
        monkeypatch.setattr(engine, "CASE_TIMEOUT", 2.0)
        engine.record.cache_clear()
        engine.baseline.cache_clear()
        return name
    yield make
    engine.record.cache_clear()
    engine.baseline.cache_clear()


@pytest.mark.parametrize("bug,expect", [("raw-json", "RecursionError"), ("hang", "hang"),
                                        ("alloc", "allocated"), ("thread", "escaped helper threads")])
def test_each_kind_of_finding_is_reported(toy, bug, expect):
    name = toy(bug)
    problem = engine.check(name, 0, Mutation("garbage", 1, "nested-list-400KB"))
    assert problem is not None and expect in problem, problem


def test_untouched_allocation_is_seen_on_announced_lengths(toy):
    name = toy("alloc-untouched")
    problem = engine.check(name, 0, Mutation("garbage", 1, "string"), trace=True)
    assert problem is not None and "allocated" in problem, problem


def test_clean_endings_are_accepted(toy):
    name = toy("none")
    # ProtocolError, a normal return, and ChannelClosed once the replay has run out.
    assert engine.check(name, 0, Mutation("garbage", 1, "string")) is None
    assert engine.check(name, 0, Mutation("drop", 1)) is None
    assert engine.check(name, 1, Mutation("huge_length", 1, 2**32 - 1)) is None
    assert engine.run_case(name, 0, Mutation("drop", 1)).kind() == "ChannelClosed"
