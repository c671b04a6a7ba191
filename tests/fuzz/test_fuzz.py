"""Every receive step of every protocol against a tampering peer (issue 12, item 8).

One honest party runs with seeded randomness against a peer that replays the
other side's recorded messages with one of them mutated; the run must end in a
normal return, ``ProtocolError`` (``HandshakeError`` included) or
``ChannelClosed`` once the replay runs out — never another exception, a hang,
an exception escaping a helper thread, or an allocation far above the honest
run's. See ``engine.py`` for the mechanics.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from . import engine
from .protocols import BY_NAME, PROTOCOLS
from .strategies import mutations, sweep

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "fuzz-ci")
if PROFILE not in ("fuzz-ci", "fuzz-long"):
    PROFILE = "fuzz-ci"

# Temporary: findings that other helpers are fixing (strict, so a fix turns the entry
# into an XPASS failure and the entry must then be deleted). Keys: (test, protocol, role).
KNOWN_FAILURES: dict[tuple[str, str, str], str] = {}


def cases(test: str):
    out = []
    for p in PROTOCOLS:
        for i, role in enumerate(p.roles):
            reason = KNOWN_FAILURES.get((test, p.name, role))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            out.append(pytest.param(p.name, i, id=f"{p.name}-{role}", marks=marks))
    return out


@pytest.mark.parametrize("protocol,role", cases("baseline"))
def test_unmutated_replay_reproduces_the_honest_run(protocol, role):
    """The premise of the harness: without a mutation, replay completes with the recorded output."""
    expected = engine.record(protocol).outputs[role]
    for transport in ("memory", "tcp"):
        out = engine.baseline(protocol, role, transport)
        assert out.exc is None and not out.hung, out.summary()
        assert engine.as_plain(out.result) == expected, f"{transport} replay diverged from the recorded run"


@pytest.mark.parametrize("protocol,role", cases("sweep"))
def test_every_receive_step(protocol, role):
    frames = engine.peer_frames(protocol, role)
    hostile = BY_NAME[protocol].hostile
    mutations_ = sweep(frames, hostile, every_handshake_field=protocol == "handshake")
    problems = [p for m in mutations_ if (p := engine.check(protocol, role, m))]
    assert not problems, f"{len(problems)} finding(s):\n" + "\n\n".join(problems)


@pytest.mark.parametrize("protocol,role", cases("fuzz"))
@settings(parent=settings.get_profile(PROFILE))
@given(data=st.data())
def test_tampering_peer(protocol, role, data):
    m = data.draw(mutations(engine.peer_frames(protocol, role)), label="mutation")
    problem = engine.check(protocol, role, m)
    assert problem is None, problem
