"""Hypothesis strategies and the deterministic per-step sweep over the peer's messages."""

from __future__ import annotations

from hypothesis import strategies as st

from .engine import GARBAGE, RETYPE_TOKENS, Mutation, is_json, json_paths, parse_json

#: Announced lengths for the raw-header mutation: above the channel's 1 GiB cap (must be
#: refused from the header alone) and below it (must not be allocated before the bytes exist).
HUGE_ABOVE_CAP = (2**32 - 1, 2**31, 2**30 + 1)
HUGE_BELOW_CAP = (2**27, 2**28)


CONFUSING = ("object", "list", "null", "string", "huge-u64", "negative", "float", "bool")


def kinds_for(frame: bytes) -> list[str]:
    kinds = ["extend", "garbage", "drop", "duplicate", "swap", "huge_length", "stream_cut"]
    if frame:
        kinds += ["truncate", "bitflip", "fill"]
    if is_json(frame):
        kinds.append("retype")
    return sorted(kinds)


@st.composite
def mutations(draw, frames: list[bytes]) -> Mutation:
    index = draw(st.integers(0, len(frames) - 1), label="message index")
    frame = frames[index]
    kind = draw(st.sampled_from(kinds_for(frame)), label="mutation")
    n = len(frame)
    if kind == "truncate":
        return Mutation(kind, index, draw(st.integers(0, n - 1) | st.just(n - 1)))
    if kind == "extend":
        return Mutation(kind, index, draw(st.binary(min_size=1, max_size=64) | st.just(bytes(4096))))
    if kind == "bitflip":
        return Mutation(kind, index, tuple(draw(st.lists(st.integers(0, 8 * n - 1), min_size=1, max_size=3))))
    if kind == "fill":
        return Mutation(kind, index, draw(st.sampled_from([0x00, 0xFF, 0x7F, 0x80]) | st.integers(0, 255)))
    if kind == "garbage":
        return Mutation(kind, index, draw(st.sampled_from(sorted(GARBAGE))))
    if kind == "retype":
        paths = json_paths(parse_json(frame))
        patch = st.tuples(st.sampled_from(paths), st.sampled_from(sorted(RETYPE_TOKENS)))
        return Mutation(kind, index, tuple(draw(st.lists(patch, min_size=1, max_size=2))))
    if kind in ("drop", "duplicate", "swap"):
        return Mutation(kind, index)
    if kind == "huge_length":
        return Mutation(kind, index, draw(st.sampled_from(HUGE_ABOVE_CAP)
                                          | st.integers(HUGE_BELOW_CAP[0], HUGE_BELOW_CAP[1])))
    if kind == "stream_cut":
        return Mutation(kind, index, draw(st.integers(0, 4 + n - 1)))
    raise AssertionError(kind)


def is_handshake(frame: bytes) -> bool:
    return frame.startswith(b'{"magic":"pqmpc-handshake/')


def sweep(frames: list[bytes], hostile=(), every_handshake_field: bool = False) -> list[Mutation]:
    """A few pointed mutations of EVERY message, so no receive step is left untried,
    plus the protocol's own ``hostile`` field patches (see ``protocols.Protocol``).

    Each field of a JSON message is retyped once, except in session handshakes,
    which all run the one ``pqmpc.net.handshake`` (the ``handshake`` row sweeps
    its fields with ``every_handshake_field``); elsewhere they get the
    message-level mutations only, which keeps the default run short.
    """
    out = []
    for i, frame in enumerate(frames):
        n = len(frame)
        if is_json(frame):
            obj = parse_json(frame)
            for keys, patches in hostile:
                if isinstance(obj, dict) and keys <= set(obj):
                    out.append(Mutation("retype", i, patches))
            out.append(Mutation("garbage", i, "nested-list-400KB"))
            out.append(Mutation("garbage", i, "int-5000-digits"))
            if every_handshake_field or not is_handshake(frame):
                # A value of the wrong type that still parses, so the check falls to the
                # protocol rather than to the JSON decoder.
                for j, path in enumerate(json_paths(obj)[1:]):
                    out.append(Mutation("retype", i, ((path, CONFUSING[j % len(CONFUSING)]),)))
        else:
            out.append(Mutation("truncate", i, n - 1) if n else Mutation("extend", i, b"\x01"))
            if n:  # right length, out-of-range values: reaches each step's value checks
                out.append(Mutation("fill", i, 0xFF))
            out.append(Mutation("garbage", i, "nested-list-400KB"))
        out.append(Mutation("huge_length", i, HUGE_BELOW_CAP[0]))
    return out
