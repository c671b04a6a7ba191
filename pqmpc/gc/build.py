"""Write Boolean circuits in Python over bit-vectors and get the :class:`Circuit` IR.

Example (the millionaires' problem, 1 AND per bit)::

    b = CircuitBuilder()
    x = b.input(64)            # input group 0 (e.g. the garbler's)
    y = b.input(64)            # input group 1 (e.g. the evaluator's)
    b.output(b.lt(x, y))       # 1 iff x < y, unsigned
    circuit = b.build()

A :class:`Bits` is an immutable vector of wire references, least significant bit
first (element ``i`` is bit ``i``, matching Bristol's wire order). Operators
``^ & | ~ + - * << >>`` and unary ``-`` work on equal-width vectors (an ``int``
operand becomes a constant of the other operand's width); comparisons are methods
(``lt``, ``le``, ``gt``, ``ge``, ``eq``, ``ne``) so that ``==`` keeps its Python
meaning.

The builder folds constants (``x AND 1 = x``, ``x XOR 1 = NOT x``, ...), shares
identical gates and removes gates no output depends on, so a circuit only pays
for the ANDs it needs. Costs in AND gates for ``n``-bit operands: ``add``/``sub``/
``neg`` n-1 (ripple carry, 1 AND per bit), ``lt``/``le`` n (1 AND per bit), ``eq``
n-1 (depth log n), ``mux`` n, ``popcount`` < n, ``mul`` about n².
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pqmpc.errors import ParameterError
from pqmpc.gc.circuit import Circuit
from pqmpc.gc.kernels import OP_AND, OP_EQ, OP_EQW, OP_INV, OP_XOR

ZERO = -1  # reference to the constant 0
ONE = -2  # reference to the constant 1
_INPUT = 255


class Bits:
    """Immutable bit-vector of wire references (LSB first) tied to one builder."""

    __slots__ = ("builder", "wires")

    def __init__(self, builder: "CircuitBuilder", wires: Sequence[int]):
        self.builder = builder
        self.wires = tuple(wires)

    def __len__(self) -> int:
        return len(self.wires)

    def __getitem__(self, key) -> "Bits":
        if isinstance(key, slice):
            return Bits(self.builder, self.wires[key])
        return Bits(self.builder, (self.wires[key],))

    def __iter__(self):
        return (Bits(self.builder, (w,)) for w in self.wires)

    def __repr__(self) -> str:
        return f"Bits({len(self)})"

    def _other(self, other) -> "Bits":
        return self.builder._coerce(other, len(self))

    def __xor__(self, other):
        return self.builder.xor(self, self._other(other))

    def __and__(self, other):
        return self.builder.and_(self, self._other(other))

    def __or__(self, other):
        return self.builder.or_(self, self._other(other))

    __rxor__, __rand__, __ror__ = __xor__, __and__, __or__

    def __invert__(self):
        return self.builder.inv(self)

    def __add__(self, other):
        return self.builder.add(self, self._other(other))

    __radd__ = __add__

    def __sub__(self, other):
        return self.builder.sub(self, self._other(other))

    def __rsub__(self, other):
        return self.builder.sub(self._other(other), self)

    def __neg__(self):
        return self.builder.neg(self)

    def __mul__(self, other):
        return self.builder.mul(self, self._other(other))

    __rmul__ = __mul__

    def __lshift__(self, k: int):
        return self.builder.shl(self, k)

    def __rshift__(self, k: int):
        return self.builder.shr(self, k)

    def lt(self, other, signed=False):
        return self.builder.lt(self, self._other(other), signed)

    def le(self, other, signed=False):
        return self.builder.le(self, self._other(other), signed)

    def gt(self, other, signed=False):
        return self.builder.gt(self, self._other(other), signed)

    def ge(self, other, signed=False):
        return self.builder.ge(self, self._other(other), signed)

    def eq(self, other):
        return self.builder.eq(self, self._other(other))

    def ne(self, other):
        return self.builder.ne(self, self._other(other))


Operand = Bits | int


class CircuitBuilder:
    """Accumulates gates over :class:`Bits`; :meth:`build` returns a :class:`Circuit`."""

    def __init__(self):
        self._op: list[int] = []  # per node; node ids are 0, 1, 2, ... in creation order
        self._a: list[int] = []
        self._b: list[int] = []
        self._inputs: list[list[int]] = []
        self._outputs: list[tuple[int, ...]] = []
        self._memo: dict[tuple[int, int, int], int] = {}
        self._inv_of: dict[int, int] = {}

    # -- inputs, outputs, constants -------------------------------------------------------

    def input(self, n: int) -> Bits:
        """Declare the next input group (``n`` bits); groups keep declaration order."""
        if n < 0:
            raise ParameterError("input width must be >= 0")
        ids = []
        for _ in range(n):
            ids.append(self._node(_INPUT, -1, -1))
        self._inputs.append(ids)
        return Bits(self, ids)

    def output(self, *values: Bits) -> None:
        """Declare the next output group (several vectors are concatenated, LSB first)."""
        bits = self.concat(*values)
        if bits.builder is not self:
            raise ParameterError("output belongs to another builder")
        self._outputs.append(bits.wires)

    def const(self, value: int, n: int) -> Bits:
        """``n``-bit constant (two's complement for negative values)."""
        value %= 1 << n if n else 1
        return Bits(self, [ONE if (value >> i) & 1 else ZERO for i in range(n)])

    def concat(self, *parts: Bits) -> Bits:
        """Concatenate, the first part in the low bits."""
        wires: list[int] = []
        for p in parts:
            if not isinstance(p, Bits) or p.builder is not self:
                raise ParameterError("concat takes Bits of this builder")
            wires.extend(p.wires)
        return Bits(self, wires)

    def _coerce(self, x: Operand, n: int) -> Bits:
        if isinstance(x, Bits):
            if x.builder is not self:
                raise ParameterError("operands belong to different builders")
            return x
        if isinstance(x, (int, np.integer)):
            return self.const(int(x), n)
        raise ParameterError(f"expected Bits or int, got {type(x).__name__}")

    def _pair(self, a: Operand, b: Operand) -> tuple[Bits, Bits]:
        if not isinstance(a, Bits):
            if not isinstance(b, Bits):
                raise ParameterError("at least one operand must be Bits")
            a = self._coerce(a, len(b))
        b = self._coerce(b, len(a))
        if len(a) != len(b):
            raise ParameterError(f"width mismatch: {len(a)} vs {len(b)}")
        return a, b

    # -- single-bit gates with folding and sharing ---------------------------------------

    def _node(self, op: int, a: int, b: int) -> int:
        self._op.append(op)
        self._a.append(a)
        self._b.append(b)
        return len(self._op) - 1

    def _inv1(self, a: int) -> int:
        if a < 0:
            return ONE if a == ZERO else ZERO
        if a in self._inv_of:
            return self._inv_of[a]
        r = self._node(OP_INV, a, -1)
        self._inv_of[a] = r
        self._inv_of[r] = a
        return r

    def _xor1(self, a: int, b: int) -> int:
        if a == ZERO:
            return b
        if b == ZERO:
            return a
        if a == ONE:
            return self._inv1(b)
        if b == ONE:
            return self._inv1(a)
        if a == b:
            return ZERO
        if self._inv_of.get(a) == b:
            return ONE
        # NOT commutes out of XOR, which lets more gates be shared
        ia, ib = self._op[a] == OP_INV, self._op[b] == OP_INV
        if ia or ib:
            r = self._xor1(self._a[a] if ia else a, self._a[b] if ib else b)
            return self._inv1(r) if ia != ib else r
        key = (OP_XOR, min(a, b), max(a, b))
        r = self._memo.get(key)
        if r is None:
            r = self._memo[key] = self._node(OP_XOR, key[1], key[2])
        return r

    def _and1(self, a: int, b: int) -> int:
        if a == ZERO or b == ZERO:
            return ZERO
        if a == ONE:
            return b
        if b == ONE or a == b:
            return a
        if self._inv_of.get(a) == b:
            return ZERO
        key = (OP_AND, min(a, b), max(a, b))
        r = self._memo.get(key)
        if r is None:
            r = self._memo[key] = self._node(OP_AND, key[1], key[2])
        return r

    # -- bitwise ----------------------------------------------------------------------------

    def xor(self, a: Operand, b: Operand) -> Bits:
        a, b = self._pair(a, b)
        return Bits(self, [self._xor1(x, y) for x, y in zip(a.wires, b.wires)])

    def and_(self, a: Operand, b: Operand) -> Bits:
        a, b = self._pair(a, b)
        return Bits(self, [self._and1(x, y) for x, y in zip(a.wires, b.wires)])

    def or_(self, a: Operand, b: Operand) -> Bits:
        """a OR b = NOT(NOT a AND NOT b): one AND per bit."""
        a, b = self._pair(a, b)
        return Bits(self, [self._inv1(self._and1(self._inv1(x), self._inv1(y)))
                           for x, y in zip(a.wires, b.wires)])

    def inv(self, a: Bits) -> Bits:
        return Bits(self, [self._inv1(x) for x in self._coerce(a, 0).wires])

    not_ = inv

    def mux(self, s: Bits, a: Operand, b: Operand) -> Bits:
        """``a`` where the 1-bit selector ``s`` is 1, else ``b`` (1 AND per bit)."""
        if len(s) != 1:
            raise ParameterError("mux selector must be 1 bit")
        a, b = self._pair(a, b)
        sel = s.wires[0]
        return Bits(self, [self._xor1(y, self._and1(sel, self._xor1(x, y)))
                           for x, y in zip(a.wires, b.wires)])

    def reduce_xor(self, a: Bits) -> Bits:
        r = ZERO
        for w in a.wires:
            r = self._xor1(r, w)
        return Bits(self, [r])

    def _tree(self, wires: list[int], f) -> int:
        # a balanced tree keeps AND-depth at log2(n)
        while len(wires) > 1:
            nxt = [f(wires[i], wires[i + 1]) for i in range(0, len(wires) - 1, 2)]
            if len(wires) % 2:
                nxt.append(wires[-1])
            wires = nxt
        return wires[0]

    def reduce_and(self, a: Bits) -> Bits:
        return Bits(self, [self._tree(list(a.wires), self._and1) if len(a) else ONE])

    def reduce_or(self, a: Bits) -> Bits:
        return self.inv(self.reduce_and(self.inv(a))) if len(a) else self.const(0, 1)

    # -- widths and shifts -----------------------------------------------------------------

    def zext(self, a: Bits, n: int) -> Bits:
        return Bits(self, (a.wires + (ZERO,) * n)[:n])

    def sext(self, a: Bits, n: int) -> Bits:
        msb = a.wires[-1] if a.wires else ZERO
        return Bits(self, (a.wires + (msb,) * n)[:n])

    def shl(self, a: Bits, k: int) -> Bits:
        n = len(a)
        k = min(max(k, 0), n)
        return Bits(self, (ZERO,) * k + a.wires[:n - k])

    def shr(self, a: Bits, k: int, signed: bool = False) -> Bits:
        n = len(a)
        k = min(max(k, 0), n)
        fill = a.wires[-1] if (signed and n) else ZERO
        return Bits(self, a.wires[k:] + (fill,) * k)

    # -- arithmetic ---------------------------------------------------------------------------

    def _add_wires(self, a, b, carry: int, want_carry: bool):
        out = []
        n = len(a)
        for i, (x, y) in enumerate(zip(a, b)):
            out.append(self._xor1(self._xor1(x, y), carry))
            if i < n - 1 or want_carry:
                # c' = c ^ ((x ^ c) & (y ^ c)): the majority function with a single AND
                carry = self._xor1(carry, self._and1(self._xor1(x, carry), self._xor1(y, carry)))
        return out, carry

    def add(self, a: Operand, b: Operand, carry_in: Bits | None = None) -> Bits:
        """a + b mod 2^n (ripple carry, n-1 ANDs)."""
        a, b = self._pair(a, b)
        cin = ZERO if carry_in is None else carry_in.wires[0]
        return Bits(self, self._add_wires(a.wires, b.wires, cin, False)[0])

    def add_carry(self, a: Operand, b: Operand, carry_in: Bits | None = None) -> tuple[Bits, Bits]:
        """(a + b + carry_in mod 2^n, carry out): n ANDs."""
        a, b = self._pair(a, b)
        cin = ZERO if carry_in is None else carry_in.wires[0]
        s, c = self._add_wires(a.wires, b.wires, cin, True)
        return Bits(self, s), Bits(self, [c])

    def sub(self, a: Operand, b: Operand) -> Bits:
        """a - b mod 2^n = a + NOT b + 1 (n-1 ANDs)."""
        a, b = self._pair(a, b)
        return Bits(self, self._add_wires(a.wires, self.inv(b).wires, ONE, False)[0])

    def neg(self, a: Bits) -> Bits:
        return self.sub(self.const(0, len(a)), a)

    def _geq_unsigned(self, a: Bits, b: Bits) -> int:
        # carry out of a + NOT b + 1 is 1 exactly when a >= b
        carry = ONE
        for x, y in zip(a.wires, b.wires):
            yb = self._inv1(y)
            carry = self._xor1(carry, self._and1(self._xor1(x, carry), self._xor1(yb, carry)))
        return carry

    def _signed_view(self, a: Bits, b: Bits, signed: bool):
        if signed and len(a):
            # flipping the sign bits maps two's complement order onto unsigned order
            a = Bits(self, a.wires[:-1] + (self._inv1(a.wires[-1]),))
            b = Bits(self, b.wires[:-1] + (self._inv1(b.wires[-1]),))
        return a, b

    def ge(self, a: Operand, b: Operand, signed: bool = False) -> Bits:
        """1 iff a >= b (n ANDs)."""
        a, b = self._signed_view(*self._pair(a, b), signed)
        return Bits(self, [self._geq_unsigned(a, b)])

    def lt(self, a: Operand, b: Operand, signed: bool = False) -> Bits:
        """1 iff a < b (n ANDs)."""
        return self.inv(self.ge(a, b, signed))

    def le(self, a: Operand, b: Operand, signed: bool = False) -> Bits:
        a, b = self._pair(a, b)
        return self.ge(b, a, signed)

    def gt(self, a: Operand, b: Operand, signed: bool = False) -> Bits:
        a, b = self._pair(a, b)
        return self.lt(b, a, signed)

    def eq(self, a: Operand, b: Operand) -> Bits:
        """1 iff a == b (n-1 ANDs, log depth)."""
        a, b = self._pair(a, b)
        return self.reduce_and(self.inv(self.xor(a, b)))

    def ne(self, a: Operand, b: Operand) -> Bits:
        return self.inv(self.eq(a, b))

    def max(self, a: Operand, b: Operand, signed: bool = False) -> Bits:
        a, b = self._pair(a, b)
        return self.mux(self.lt(a, b, signed), b, a)

    def min(self, a: Operand, b: Operand, signed: bool = False) -> Bits:
        a, b = self._pair(a, b)
        return self.mux(self.lt(a, b, signed), a, b)

    def mul(self, a: Operand, b: Operand) -> Bits:
        """a * b mod 2^n, schoolbook (about n² ANDs)."""
        a, b = self._pair(a, b)
        n = len(a)
        acc = [self._and1(x, b.wires[0]) for x in a.wires] if n else []
        for i in range(1, n):
            row = [self._and1(a.wires[j], b.wires[i]) for j in range(n - i)]
            hi, _ = self._add_wires(acc[i:], row, ZERO, False)
            acc = acc[:i] + hi
        return Bits(self, acc)

    def popcount(self, a: Bits) -> Bits:
        """Number of ones in ``a`` as a ``bit_length(n)``-bit value.

        Carry-save compression: every full adder (one AND) turns three bits of one
        weight into one bit of that weight and one of the next, so about ``n`` ANDs in
        total; working in rounds keeps the AND-depth logarithmic.
        """
        n = len(a)
        width = max(1, n.bit_length())
        cols: list[list[int]] = [list(a.wires)] + [[] for _ in range(width)]
        result = []
        for w in range(width):
            bits = cols[w]
            while len(bits) > 2:
                nxt = []
                for i in range(0, len(bits) - 2, 3):
                    x, y, c = bits[i], bits[i + 1], bits[i + 2]
                    nxt.append(self._xor1(self._xor1(x, y), c))
                    cols[w + 1].append(
                        self._xor1(c, self._and1(self._xor1(x, c), self._xor1(y, c))))
                nxt.extend(bits[len(bits) - len(bits) % 3:])
                bits = nxt
            if len(bits) == 2:
                cols[w + 1].append(self._and1(bits[0], bits[1]))
                bits = [self._xor1(bits[0], bits[1])]
            result.append(bits[0] if bits else ZERO)
        return Bits(self, result)

    def hamming_distance(self, a: Operand, b: Operand) -> Bits:
        a, b = self._pair(a, b)
        return self.popcount(self.xor(a, b))

    # -- finishing ------------------------------------------------------------------------------

    def build(self) -> Circuit:
        """The finished circuit: live gates only, outputs on the last wires."""
        n_nodes = len(self._op)
        op = np.array(self._op, dtype=np.int64) if n_nodes else np.zeros(0, np.int64)
        a = np.array(self._a, dtype=np.int64) if n_nodes else np.zeros(0, np.int64)
        b = np.array(self._b, dtype=np.int64) if n_nodes else np.zeros(0, np.int64)
        outs = [w for grp in self._outputs for w in grp]
        live = np.zeros(n_nodes, dtype=bool)
        for w in outs:
            if w >= 0:
                live[w] = True
        for v in range(n_nodes - 1, -1, -1):  # node ids are topological
            if live[v] and op[v] != _INPUT:
                live[a[v]] = True
                if b[v] >= 0:
                    live[b[v]] = True
        inputs = [w for grp in self._inputs for w in grp]
        n_in = len(inputs)
        n_out = len(outs)
        wire = np.full(n_nodes, -1, dtype=np.int64)
        if n_in:
            wire[np.array(inputs)] = np.arange(n_in)
        gate_nodes = np.flatnonzero(live & (op != _INPUT))
        # a gate feeding exactly one output position writes straight into that output wire
        direct = {}
        for p, w in enumerate(outs):
            if w >= 0 and op[w] != _INPUT and w not in direct:
                direct[w] = p
        n_internal = len(gate_nodes) - len(direct)
        out_base = n_in + n_internal
        next_wire = n_in
        for v in gate_nodes.tolist():
            if v in direct:
                wire[v] = out_base + direct[v]
            else:
                wire[v] = next_wire
                next_wire += 1
        g_op = op[gate_nodes].astype(np.uint8)
        g_a = np.where(a[gate_nodes] >= 0, wire[np.maximum(a[gate_nodes], 0)], -1)
        g_b = np.where(b[gate_nodes] >= 0, wire[np.maximum(b[gate_nodes], 0)], -1)
        g_out = wire[gate_nodes]
        extra_op, extra_a, extra_out = [], [], []
        for p, w in enumerate(outs):
            if w < 0:
                extra_op.append(OP_EQ)
                extra_a.append(1 if w == ONE else 0)
                extra_out.append(out_base + p)
            elif op[w] == _INPUT or direct[w] != p:
                extra_op.append(OP_EQW)
                extra_a.append(int(wire[w]))
                extra_out.append(out_base + p)
        if extra_op:
            g_op = np.concatenate([g_op, np.array(extra_op, dtype=np.uint8)])
            g_a = np.concatenate([g_a, np.array(extra_a, dtype=np.int64)])
            g_b = np.concatenate([g_b, np.full(len(extra_op), -1, dtype=np.int64)])
            g_out = np.concatenate([g_out, np.array(extra_out, dtype=np.int64)])
        return Circuit(out_base + n_out, [len(g) for g in self._inputs],
                       [len(g) for g in self._outputs], g_op, g_a, g_b, g_out)
