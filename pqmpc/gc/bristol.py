"""Strict reader and writer for Bristol Fashion circuits.

Format (nigelsmart.github.io/MPC-Circuits, KULeuven-COSIC/SCALE-MAMBA ``Circuits/Bristol``)::

    ngates nwires
    niv n_1 ... n_niv
    nov m_1 ... m_nov

    nin nout in_1 .. in_nin out_1 .. out_nout OP      (one gate per line)

``OP`` is ``XOR`` (2→1), ``AND`` (2→1), ``INV`` (1→1), ``EQW`` (1→1, copy),
``EQ`` (``1 1 c w EQ``: wire ``w`` := constant ``c``) or ``MAND``
(``2n n a_1..a_n b_1..b_n o_1..o_n MAND``: ``o_i = a_i AND b_i``). Input group ``j``
takes the next ``n_j`` wires from wire 0; the outputs are the last ``m_1+...+m_nov``
wires. Bit order: wire ``start + i`` carries bit ``i`` of the group's value, least
significant first (a byte string is read as a big-endian integer, so the first wire
of a 16-byte AES key is the low bit of its *last* byte).

Reading is strict: any deviation raises :class:`~pqmpc.errors.CircuitError` whose
``.line`` is the 1-based line number — unknown gate, wrong arity, a wire out of
range, a wire used before it is set, a wire set twice, a gate count or input/output
count that does not match the header, an output wire never set. Trailing blanks on
any line and blank lines anywhere are accepted (most published files carry them).
``MAND`` is expanded into ``n`` AND gates, so writing back produces plain ``AND``
lines; the IR, not the text, is what round-trips.

The older, pre-Fashion "Bristol" format (line 2 ``n1 n2 nout``: two inputs and one
output, gates from line 3 on) is read too, recognised by its third line being a gate.
Its wires are taken as numbered in the file, with no reordering: circuits published
in that format may number bits most significant first, so check a known answer before
relying on an integer reading of their groups. Writing always produces Bristol Fashion.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from pqmpc.gc.circuit import OP_NAMES, Circuit, circuit_error
from pqmpc.gc.kernels import OP_AND, OP_EQ, OP_EQW, OP_INV, OP_XOR, scan_bristol_gates

_UNARY = {"INV": OP_INV, "EQW": OP_EQW, "EQ": OP_EQ}
_BINARY = {"XOR": OP_XOR, "AND": OP_AND}


def _ints(tokens, line):
    try:
        return [int(t) for t in tokens]
    except ValueError:
        raise circuit_error(f"expected integers, got {' '.join(tokens)!r}", line) from None


def _as_text(text_or_path) -> str:
    if isinstance(text_or_path, (bytes, bytearray)):
        return bytes(text_or_path).decode("ascii")
    if isinstance(text_or_path, os.PathLike):
        return Path(text_or_path).read_text(encoding="ascii")
    if isinstance(text_or_path, str):
        # circuit text always has several lines; a one-line string can only be a path
        if "\n" not in text_or_path:
            return Path(text_or_path).read_text(encoding="ascii")
        return text_or_path
    raise TypeError("expected Bristol text, bytes or a path")


def parse_bristol(text: str) -> Circuit:
    """Parse Bristol Fashion text into a :class:`Circuit` (strict; see module doc)."""
    lines = text.split("\n")
    header = []
    i = 0
    while len(header) < 3 and i < len(lines):
        toks = lines[i].split()
        i += 1
        if toks:
            header.append((i, toks))
    if len(header) < 3:
        raise circuit_error("truncated header: need 'ngates nwires', inputs and outputs lines",
                            len(lines))
    (l1, t1), (l2, t2), (l3, t3) = header
    h1 = _ints(t1, l1)
    if len(h1) != 2 or min(h1) < 0:
        raise circuit_error("first line must be 'ngates nwires'", l1)
    ngates, nwires = h1
    if len(t2) == 3 and t3[-1].isalpha() and not t3[-1].isdigit():
        # The pre-Fashion "Bristol" format: line 2 is "n1 n2 nout" (two inputs, one
        # output) and the gates start right after it.
        sizes = _ints(t2, l2)
        if min(sizes) < 0:
            raise circuit_error("input/output sizes must be non-negative", l2)
        return _parse_gates(text, lines, l2, ngates, nwires, sizes[:2], sizes[2:], l1)
    h2, h3 = _ints(t2, l2), _ints(t3, l3)
    if not h2 or h2[0] != len(h2) - 1 or min(h2) < 0:
        raise circuit_error(f"input count mismatch: line says {h2[0] if h2 else '?'} inputs "
                            f"but lists {len(h2) - 1} sizes", l2)
    if not h3 or h3[0] != len(h3) - 1 or min(h3) < 0:
        raise circuit_error(f"output count mismatch: line says {h3[0] if h3 else '?'} outputs "
                            f"but lists {len(h3) - 1} sizes", l3)

    return _parse_gates(text, lines, i, ngates, nwires, h2[1:], h3[1:], l1)


def _parse_gates(text, lines, i, ngates, nwires, inputs, outputs, l1) -> Circuit:
    """Gate lines from index ``i`` on (0-based), after a header already checked."""
    fast = _scan_fast(text, lines, i, nwires, inputs, outputs, ngates)
    if fast is not None:
        return fast
    op, in0, in1, out, gl = [], [], [], [], []
    n_lines = 0
    for lineno in range(i + 1, len(lines) + 1):
        toks = lines[lineno - 1].split()
        if not toks:
            continue
        n_lines += 1
        name = toks[-1]
        nums = _ints(toks[:-1], lineno)
        if len(nums) < 2:
            raise circuit_error(f"gate line too short: {' '.join(toks)!r}", lineno)
        nin, nout = nums[0], nums[1]
        if len(nums) != 2 + nin + nout:
            raise circuit_error(f"wire count mismatch: gate declares {nin} inputs and {nout} "
                                f"outputs but lists {len(nums) - 2} wires", lineno)
        if name in _BINARY:
            if nin != 2 or nout != 1:
                raise circuit_error(f"wrong arity: {name} takes 2 inputs and 1 output, got {nin} "
                                    f"and {nout}", lineno)
            op.append(_BINARY[name])
            in0.append(nums[2])
            in1.append(nums[3])
            out.append(nums[4])
            gl.append(lineno)
        elif name in _UNARY:
            if nin != 1 or nout != 1:
                raise circuit_error(f"wrong arity: {name} takes 1 input and 1 output, got {nin} "
                                    f"and {nout}", lineno)
            if name == "EQ" and nums[2] not in (0, 1):
                raise circuit_error(f"EQ constant must be 0 or 1, got {nums[2]}", lineno)
            op.append(_UNARY[name])
            in0.append(nums[2])
            in1.append(-1)
            out.append(nums[3])
            gl.append(lineno)
        elif name == "MAND":
            n = nout
            if n < 1 or nin != 2 * n:
                raise circuit_error(f"wrong arity: MAND takes 2n inputs and n outputs, got {nin} "
                                    f"and {nout}", lineno)
            op.extend([OP_AND] * n)
            in0.extend(nums[2:2 + n])
            in1.extend(nums[2 + n:2 + 2 * n])
            out.extend(nums[2 + 2 * n:])
            gl.extend([lineno] * n)
        else:
            raise circuit_error(f"unknown gate {name!r}", lineno)
    if n_lines != ngates:
        raise circuit_error(f"gate count mismatch: header announces {ngates} gates but the file "
                            f"has {n_lines}", l1)
    return Circuit(nwires, inputs, outputs, np.array(op, dtype=np.uint8),
                   np.array(in0, dtype=np.int64), np.array(in1, dtype=np.int64),
                   np.array(out, dtype=np.int64), gate_lines=np.array(gl, dtype=np.int64))


def _scan_fast(text, lines, i, nwires, inputs, outputs, ngates):
    """The common case in one numba pass over the bytes; None means "use the slow reader".

    The slow reader is the reference: the fast one accepts only lines it would
    accept too (plain XOR/AND/INV/EQ/EQW with the right arity), and any oddity,
    including every error, falls back so the message and line number come from
    one place.
    """
    offset = sum(len(line) + 1 for line in lines[:i])
    try:
        buf = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    except UnicodeEncodeError:
        return None
    cap = ngates + 1
    op = np.empty(cap, np.uint8)
    in0 = np.empty(cap, np.int64)
    in1 = np.empty(cap, np.int64)
    out = np.empty(cap, np.int64)
    gl = np.empty(cap, np.int64)
    n, ok = scan_bristol_gates(buf, offset, i + 1, op, in0, in1, out, gl)
    if not ok or n != ngates:
        return None
    return Circuit(nwires, inputs, outputs, op[:n], in0[:n], in1[:n], out[:n], gate_lines=gl[:n])


def read_bristol(text_or_path) -> Circuit:
    """Parse Bristol Fashion from a string of text, bytes, or a file path."""
    return parse_bristol(_as_text(text_or_path))


def write_bristol(circuit: Circuit) -> str:
    """Canonical Bristol Fashion text for ``circuit``; parses back to an equal circuit."""
    head = (f"{circuit.n_gates} {circuit.n_wires}\n"
            f"{len(circuit.input_sizes)} {' '.join(map(str, circuit.input_sizes))}".rstrip()
            + "\n"
            + f"{len(circuit.output_sizes)} {' '.join(map(str, circuit.output_sizes))}".rstrip()
            + "\n\n")
    op = circuit.op.tolist()
    a = circuit.in0.tolist()
    b = circuit.in1.tolist()
    o = circuit.out.tolist()
    names = OP_NAMES
    body = [f"2 1 {a[g]} {b[g]} {o[g]} {names[k]}" if k <= OP_AND
            else f"1 1 {a[g]} {o[g]} {names[k]}" for g, k in enumerate(op)]
    return head + "\n".join(body) + ("\n" if body else "")
