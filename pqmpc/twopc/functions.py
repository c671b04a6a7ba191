"""Ready-made two-party functions on top of the builder and :mod:`pqmpc.twopc.yao`.

Every function has the same shape::

    result = f(ch, role, value, *, bits=..., rng=None, reveal="both", ot="iknp", info=None)

``role`` is ``"garbler"`` or ``"evaluator"`` (the two parties must pick different
roles); ``value`` is this party's own input; ``bits`` is the width both parties
agree on (a mismatch is a :class:`~pqmpc.errors.HandshakeError` on both sides,
because the circuit digests differ). Every party that ``reveal`` names gets the
result; the other gets ``None``. Integers are unsigned unless ``signed=True``
(two's complement); a value that does not fit in ``bits`` is a
:class:`~pqmpc.errors.ParameterError` before anything is sent.

Security: semi-honest Yao (see :mod:`pqmpc.twopc.yao`): each party learns the
result and what follows from it and its own input, nothing more. Post-quantum
through the lattice base OTs; Python cannot promise constant time.

Two parties in one process (threads) for a try-out::

    from pqmpc.net import run_pair
    from pqmpc.twopc import functions as F
    run_pair(lambda ch: F.millionaires(ch, "garbler", 1_000_000),
             lambda ch: F.millionaires(ch, "evaluator", 2_500_000))   # (True, True)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from pqmpc.errors import ParameterError
from pqmpc.gc.build import CircuitBuilder
from pqmpc.gc.circuit import Circuit, bits_to_int, int_to_bits

from ..gc import aes128 as aes_circuit
from .yao import yao_evaluator, yao_garbler

ROLES = ("garbler", "evaluator")


def run_circuit(ch, role: str, circuit: Circuit, inputs, **kw):
    """``yao_garbler`` or ``yao_evaluator`` by ``role`` (same keyword arguments)."""
    if role == "garbler":
        return yao_garbler(ch, circuit, inputs, **kw)
    if role == "evaluator":
        return yao_evaluator(ch, circuit, inputs, **kw)
    raise ParameterError(f"role must be 'garbler' or 'evaluator', got {role!r}")


def encode_int(value, bits: int, signed: bool = False, what: str = "value") -> np.ndarray:
    """``value`` as ``bits`` circuit bits (least significant first), range-checked."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ParameterError(f"{what} must be an integer, got {type(value).__name__}")
    v = int(value)
    lo, hi = (-(1 << (bits - 1)), 1 << (bits - 1)) if signed else (0, 1 << bits)
    if not lo <= v < hi:
        kind = "signed" if signed else "unsigned"
        raise ParameterError(f"{what} {v} does not fit in {bits} {kind} bits ([{lo}, {hi - 1}])")
    return int_to_bits(v, bits)


def _check_bits(bits) -> int:
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 1 <= bits <= 1 << 16:
        raise ParameterError(f"bits must be an integer in 1..65536, got {bits!r}")
    return int(bits)


# -- circuits (cached: same arguments, same object, same digest) ------------------------

def _two_input(bits: int, body) -> Circuit:
    """A circuit of two ``bits``-wide inputs whose outputs ``body(builder, x, y)`` declares."""
    b = CircuitBuilder()
    body(b, b.input(bits), b.input(bits))
    return b.build()


@lru_cache(maxsize=64)
def less_than_circuit(bits: int, signed: bool = False) -> Circuit:
    """Output 1 iff input 0 < input 1 (``bits`` AND gates)."""
    return _two_input(bits, lambda b, x, y: b.output(b.lt(x, y, signed)))


@lru_cache(maxsize=64)
def equality_circuit(bits: int) -> Circuit:
    """Output 1 iff input 0 == input 1 (``bits - 1`` AND gates, depth log2(bits))."""
    return _two_input(bits, lambda b, x, y: b.output(b.eq(x, y)))


@lru_cache(maxsize=64)
def hamming_circuit(bits: int) -> Circuit:
    """Number of positions where the inputs differ (popcount of XOR: < ``bits`` ANDs)."""
    return _two_input(bits, lambda b, x, y: b.output(b.hamming_distance(x, y)))


@lru_cache(maxsize=64)
def sum_circuit(bits: int) -> Circuit:
    """``x + y`` with the carry kept: a ``bits + 1``-bit result (``bits`` ANDs)."""
    return _two_input(bits, lambda b, x, y: b.output(*b.add_carry(x, y)))


@lru_cache(maxsize=64)
def signed_sum_circuit(bits: int) -> Circuit:
    """Two's complement ``x + y`` on ``bits + 1`` bits (sign-extended, never overflows)."""
    return _two_input(bits, lambda b, x, y: b.output(b.add(b.sext(x, bits + 1), b.sext(y, bits + 1))))


@lru_cache(maxsize=64)
def max_circuit(bits: int, signed: bool = False) -> Circuit:
    """``max(x, y)`` (``2·bits`` ANDs: a comparison and a multiplexer)."""
    return _two_input(bits, lambda b, x, y: b.output(b.max(x, y, signed)))


# -- the functions ---------------------------------------------------------------------

def _two_int(ch, role, value, circuit, bits, signed, kw):
    if role not in ROLES:
        raise ParameterError(f"role must be 'garbler' or 'evaluator', got {role!r}")
    mine = encode_int(value, bits, signed)
    return run_circuit(ch, role, circuit, [mine], **kw)


def millionaires(ch, role: str, value: int, bits: int = 64, *, signed: bool = False, **kw) -> bool | None:
    """Yao's millionaires' problem: ``True`` iff the garbler's value < the evaluator's.

    ``bits`` AND gates (64 for the default width). Example (threads)::

        run_pair(lambda ch: millionaires(ch, "garbler", 10),
                 lambda ch: millionaires(ch, "evaluator", 20))      # (True, True)
    """
    bits = _check_bits(bits)
    out = _two_int(ch, role, value, less_than_circuit(bits, signed), bits, signed, kw)
    return None if out is None else bool(out[0][0])


def equality(ch, role: str, value, bits: int | None = None, **kw) -> bool | None:
    """``True`` iff both parties hold the same value.

    ``value``: an integer (then ``bits`` is required, default 64) or ``bytes``/``str``
    (UTF-8), compared as byte strings of ``8·len`` bits — both lengths must match, as
    the length is part of the circuit. Example::

        run_pair(lambda ch: equality(ch, "garbler", b"secret"),
                 lambda ch: equality(ch, "evaluator", b"secret"))   # (True, True)
    """
    if isinstance(value, str):
        value = value.encode("utf-8")
    if isinstance(value, (bytes, bytearray)):
        nbits = 8 * len(value) if bits is None else _check_bits(bits)
        if nbits != 8 * len(value):
            raise ParameterError(f"bits={bits} but the value has {8 * len(value)} bits")
        if nbits == 0:
            raise ParameterError("cannot compare empty strings in a circuit (nothing to compare)")
        mine = aes_circuit.block_to_bits(bytes(value), len(value))[0]
        if role not in ROLES:
            raise ParameterError(f"role must be 'garbler' or 'evaluator', got {role!r}")
        out = run_circuit(ch, role, equality_circuit(nbits), [mine], **kw)
    else:
        nbits = _check_bits(64 if bits is None else bits)
        out = _two_int(ch, role, value, equality_circuit(nbits), nbits, False, kw)
    return None if out is None else bool(out[0][0])


def hamming_distance(ch, role: str, value, bits: int | None = None, **kw) -> int | None:
    """Number of bit positions in which the two parties' values differ.

    ``value``: ``bytes`` (``bits`` = 8·len, both lengths equal) or a non-negative
    integer with ``bits`` (default 64). Example::

        run_pair(lambda ch: hamming_distance(ch, "garbler", b"\\x0f"),
                 lambda ch: hamming_distance(ch, "evaluator", b"\\x01"))  # (3, 3)
    """
    if isinstance(value, (bytes, bytearray)):
        nbits = 8 * len(value)
        if bits is not None and bits != nbits:
            raise ParameterError(f"bits={bits} but the value has {nbits} bits")
        if nbits == 0:
            raise ParameterError("hamming distance of empty strings: nothing to compare")
        if role not in ROLES:
            raise ParameterError(f"role must be 'garbler' or 'evaluator', got {role!r}")
        out = run_circuit(ch, role, hamming_circuit(nbits), [aes_circuit.block_to_bits(bytes(value),
                                                                                         len(value))[0]], **kw)
    else:
        nbits = _check_bits(64 if bits is None else bits)
        out = _two_int(ch, role, value, hamming_circuit(nbits), nbits, False, kw)
    return None if out is None else bits_to_int(out[0])


def integer_sum(ch, role: str, value: int, bits: int = 64, *, signed: bool = False, **kw) -> int | None:
    """The exact sum of the two private integers (``bits + 1`` output bits, no overflow).

    Example::

        run_pair(lambda ch: integer_sum(ch, "garbler", 2**63),
                 lambda ch: integer_sum(ch, "evaluator", 2**63))      # (2**64, 2**64)
    """
    bits = _check_bits(bits)
    c = signed_sum_circuit(bits) if signed else sum_circuit(bits)
    out = _two_int(ch, role, value, c, bits, signed, kw)
    return None if out is None else bits_to_int(out[0], signed=signed)


def integer_max(ch, role: str, value: int, bits: int = 64, *, signed: bool = False, **kw) -> int | None:
    """The larger of the two private integers (not who holds it, unless it is one's own).

    Example::

        run_pair(lambda ch: integer_max(ch, "garbler", -5, signed=True),
                 lambda ch: integer_max(ch, "evaluator", 3, signed=True))  # (3, 3)
    """
    bits = _check_bits(bits)
    out = _two_int(ch, role, value, max_circuit(bits, signed), bits, signed, kw)
    return None if out is None else bits_to_int(out[0], signed=signed)


def aes128(ch, role: str, data, *, key_owner: str = "garbler", **kw) -> bytes | None:
    """AES-128 (FIPS-197, ECB on each block) with one party's key and the other's plaintext.

    The key owner passes the 16-byte key; the other party passes the plaintext,
    ``16·n`` bytes (n ≥ 0 blocks, all encrypted in one run: the key's labels are sent
    or obliviously transferred once and shared by every block). Returns the
    ciphertext bytes to each party ``reveal`` names — pass ``reveal`` so that only the
    plaintext owner learns it for an oblivious PRF. The key owner runs the key
    schedule in the clear (it depends on its input alone), so the circuit is the
    5,120-AND rounds-only circuit of :func:`pqmpc.gc.aes128.aes128_expanded_circuit`.
    Example::

        run_pair(lambda ch: aes128(ch, "garbler", key),
                 lambda ch: aes128(ch, "evaluator", b"sixteen byte msg"))
        # both get AES_key(b"sixteen byte msg"), as cryptography's AES-ECB gives
    """
    if role not in ROLES:
        raise ParameterError(f"role must be 'garbler' or 'evaluator', got {role!r}")
    if key_owner not in ROLES:
        raise ParameterError(f"key_owner must be 'garbler' or 'evaluator', got {key_owner!r}")
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ParameterError("aes128 takes bytes (a 16-byte key, or plaintext of 16·n bytes)")
    data = bytes(data)
    c = aes_circuit.aes128_expanded_circuit()
    if role == key_owner:
        mine = aes_circuit.expand_key_bits(data)  # 1-D: shared by every block of the batch
    else:
        if len(data) % 16:
            raise ParameterError(f"plaintext must be a multiple of 16 bytes, got {len(data)}")
        mine = aes_circuit.block_to_bits(data) if data else np.zeros((0, 128), np.uint8)  # (n, 128)
    owner_is_g = key_owner == "garbler"
    own = {"garbler_inputs": [0] if owner_is_g else [1], "evaluator_inputs": [1] if owner_is_g else [0]}
    out = run_circuit(ch, role, c, [mine], **own, **kw)
    if out is None:
        return None
    ct = out[0]  # (n, 128): the plaintext rows make the run a batch
    return aes_circuit.bits_to_block(ct).tobytes() if ct.shape[0] else b""


def function_circuit(name: str, value=None, bits: int | None = None, signed: bool = False) -> Circuit | None:
    """The circuit ``FUNCTIONS[name]`` runs for this party's ``value`` and these options, or
    ``None`` if they are not valid (the call itself then says why). Both parties' circuits
    must agree, and the handshake checks it; this lets a caller build the circuit and
    :func:`pqmpc.twopc.prepare` it before the peer connects."""
    try:
        if name == "aes128":
            return aes_circuit.aes128_expanded_circuit()
        if isinstance(value, str):
            value = value.encode("utf-8")
        n = _check_bits(64 if bits is None else bits)
        if name in ("equality", "hamming") and isinstance(value, (bytes, bytearray)):
            n = 8 * len(value)
            if n == 0:
                return None
        if name == "millionaires":
            return less_than_circuit(n, signed)
        if name == "equality":
            return equality_circuit(n)
        if name == "hamming":
            return hamming_circuit(n)
        if name == "sum":
            return signed_sum_circuit(n) if signed else sum_circuit(n)
        if name == "max":
            return max_circuit(n, signed)
    except ParameterError:
        return None
    return None


# -- registry for the command line -----------------------------------------------------

@dataclass(frozen=True)
class NamedFunction:
    """How ``pqmpc 2pc --function NAME`` turns a text input into a call and prints the result."""

    name: str
    summary: str
    call: Callable
    parse: Callable[[str], object]
    default_bits: int | None


def parse_int(text: str) -> int:
    """An integer from the command line: decimal or ``0x`` hex, ``_`` separators, optional ``-``."""
    t = text.strip().replace("_", "")
    neg = t.startswith("-")
    body = t[1:] if neg else t
    try:
        v = int(body, 16) if body.lower().startswith("0x") else int(body, 10)
    except ValueError:
        raise ParameterError(f"expected an integer (decimal or 0x-hex), got {text!r}") from None
    return -v if neg else v


def parse_bytes(text: str) -> bytes:
    """``0x``-hex bytes, or the UTF-8 bytes of any other text."""
    t = text.strip()
    if t.lower().startswith("0x"):
        try:
            return bytes.fromhex(t[2:])
        except ValueError:
            raise ParameterError(f"bad hex string {text!r}") from None
    return t.encode("utf-8")


def parse_hex_bytes(text: str) -> bytes:
    """Hex bytes with or without ``0x``."""
    t = text.strip()
    try:
        return bytes.fromhex(t[2:] if t.lower().startswith("0x") else t)
    except ValueError:
        raise ParameterError(f"expected hex bytes (e.g. 0x000102...0f), got {text!r}") from None


FUNCTIONS = {
    "millionaires": NamedFunction("millionaires", "1 if the garbler's integer < the evaluator's", millionaires,
                                  parse_int, 64),
    "equality": NamedFunction("equality", "1 if both integers are equal", equality, parse_int, 64),
    "hamming": NamedFunction("hamming", "Hamming distance of two byte strings (0x-hex or text)",
                             hamming_distance, parse_bytes, None),
    "sum": NamedFunction("sum", "exact sum of two integers", integer_sum, parse_int, 64),
    "max": NamedFunction("max", "maximum of two integers", integer_max, parse_int, 64),
    "aes128": NamedFunction("aes128", "AES-128: the garbler's 16-byte key, the evaluator's 16·n-byte "
                            "plaintext (hex)", aes128, parse_hex_bytes, None),
}

# the names the command line used before these were public
_parse_int, _parse_bytes, _parse_hex_bytes = parse_int, parse_bytes, parse_hex_bytes

__all__ = ["parse_int", "parse_bytes", "parse_hex_bytes",
           "millionaires", "equality", "hamming_distance", "integer_sum", "integer_max", "aes128", "run_circuit",
           "encode_int", "FUNCTIONS", "function_circuit", "less_than_circuit", "equality_circuit",
           "hamming_circuit", "sum_circuit", "signed_sum_circuit", "max_circuit"]
