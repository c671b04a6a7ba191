"""What the sender learns with ``reveal_to_sender``: the intersection, and nothing about the receiver's order.

Regression for the security review (issue 12, item 1): step 7 used to carry one
position list per cuckoo hash function, so the sender learnt which function
placed each matched item — a function of the receiver's whole set and of its
input order. Step 7 must be a function of the intersection alone.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pqmpc.net import MemoryChannel, run_pair
from pqmpc.psi import psi_receiver, psi_sender
from pqmpc.rng import Rng


class LoggingChannel(MemoryChannel):
    """Keeps every frame this end sends and receives, in order."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.log = []

    def _send_message(self, payload):
        self.log.append(("sent", bytes(payload)))
        super()._send_message(payload)

    def _recv_message(self):
        frame = super()._recv_message()
        self.log.append(("recv", bytes(frame)))
        return frame


def step7_as_seen_by_sender(sender_items, receiver_items, seed=b"order"):
    """Everything the sender receives after its last message (step 7), and both outputs."""
    s_ch, r_ch = LoggingChannel.pair()
    s_idx, r_idx = run_pair(
        lambda ch: psi_sender(ch, sender_items, rng=Rng(seed + b"/s"), reveal_to_sender=True, protocol="kkrt"),
        lambda ch: psi_receiver(ch, receiver_items, rng=Rng(seed + b"/r"), reveal_to_sender=True, protocol="kkrt"),
        channels=(s_ch, r_ch))
    last_send = max(i for i, (kind, _) in enumerate(s_ch.log) if kind == "sent")
    tail = [frame for kind, frame in s_ch.log[last_send + 1:] if kind == "recv"]
    assert tail, "the sender received nothing after its values"
    return tail, s_idx, r_idx


def test_step7_does_not_depend_on_the_receivers_order():
    sender = [f"user{i}" for i in range(0, 600, 2)]
    receiver = [f"user{i}" for i in range(0, 600, 3)] + ["user4", "nobody"]  # a duplicate and a miss
    want, s_idx, _ = step7_as_seen_by_sender(sender, receiver)
    want_sender = sorted(i for i, x in enumerate(sender) if x in set(receiver))
    assert s_idx.tolist() == want_sender
    rng = np.random.default_rng(7)
    for _ in range(4):
        perm = rng.permutation(len(receiver))
        shuffled = [receiver[i] for i in perm]
        got, s_idx2, r_idx2 = step7_as_seen_by_sender(sender, shuffled)
        assert s_idx2.tolist() == want_sender
        assert sorted(shuffled[i] for i in r_idx2) == sorted(x for x in shuffled if x in set(sender))
        assert got == want


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n_sender=st.integers(1, 300), n_common=st.integers(1, 300), n_extra=st.integers(0, 300),
       n_dup=st.integers(0, 20), seed=st.integers(0, 2**32 - 1))
def test_step7_depends_only_on_the_intersection(n_sender, n_common, n_extra, n_dup, seed):
    """Two receivers with the same intersection (other items, duplicates and order differ) send the same bytes."""
    rng = np.random.default_rng(seed)
    n_common = min(n_common, n_sender)
    sender = [f"s{i}" for i in range(n_sender)]
    common = [sender[i] for i in rng.choice(n_sender, n_common, replace=False)]
    # Same receiver set size (it is public and fixes the table size and tag length), other non-matches.
    r1 = common + [f"a{i}" for i in range(n_extra)]
    r2 = common + [f"b{i}" for i in range(n_extra)] + [common[i] for i in rng.integers(0, n_common, n_dup)]
    r1 = [r1[i] for i in rng.permutation(len(r1))]
    r2 = [r2[i] for i in rng.permutation(len(r2))]
    t1, _, _ = step7_as_seen_by_sender(sender, r1)
    t2, s2, _ = step7_as_seen_by_sender(sender, r2)
    assert t1 == t2
    assert s2.tolist() == sorted(sender.index(x) for x in common)
