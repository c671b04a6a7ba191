"""Word-sliced AES-256 key schedules on zmm, software-pipelined against the cipher that uses them.

The κ = 256 wide TCCR hash (:func:`.hashing.tccr_wide`) keys AES-256 by each row, so every row pays
a key schedule: 13 dependent SubWord steps. Laid out as the cipher wants them (four keys per zmm
register, one per 128-bit lane), each step cost every register a byte shuffle, an ``aesenclast``,
two in-lane shifts and two XORs for the word prefix, and the schedules were most of the hash's time.

Here sixteen keys (four registers) are *word-sliced*: register ``i`` holds word ``i`` of all sixteen
(at lane ``L``, column ``m``: the key in lane ``L`` of key register ``m``). SubWord is bytewise, so
one ``aesenclast`` runs a step for all sixteen keys (ShiftRows undone by the byte order it is fed,
RotWord folded into the same shuffle), the word prefix is XORs between registers, and an in-lane
4 × 4 word transpose (eight unpacks, its own inverse) turns four sliced registers into four
round-key registers. One step is then a chain of one shuffle and one AES instruction for sixteen
keys, where there were four chains of four keys; so that the core has other work beside that chain,
the loop is software-pipelined: each iteration runs the schedule of the next sixteen keys beside the
cipher of the current ones (sixteen independent blocks chains), whose round keys the previous
iteration left in a stack buffer. Same round keys, same bytes (``tests/primitives/test_tccr*.py``
compare with OpenSSL). Callers check AVX-512 VAES (:data:`.tccr_wide_zmm.HAVE_WIDE_ZMM`).
"""

from __future__ import annotations

from llvmlite import ir
from numba.core import cgutils

__all__ = ["GROUP", "emit_pipelined_groups"]

#: keys per sliced group (four zmm registers of four keys)
GROUP = 16

_I32 = ir.IntType(32)
_Z = ir.VectorType(ir.IntType(64), 8)
_W = ir.VectorType(_I32, 16)
_B = ir.VectorType(ir.IntType(8), 64)
_RCON = (0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40)


def _lanewise(pattern, width):
    return ir.Constant(ir.VectorType(_I32, 4 * len(pattern)), [p + ln * width for ln in range(4) for p in pattern])


_LO32, _HI32 = _lanewise([0, 16, 1, 17], 4), _lanewise([2, 18, 3, 19], 4)
_LO64, _HI64 = _lanewise([0, 1, 16, 17], 4), _lanewise([2, 3, 18, 19], 4)
# aesenclast's ShiftRows takes output byte 4c + r from input column c + r: fed each column's bytes
# from there, every output column is SubWord of its own key's word (RotWord first when rot = 1)
_UNDO_SHIFTROWS = {rot: _lanewise([4 * ((c - r) % 4) + (r + rot) % 4 for c in range(4) for r in range(4)], 16)
                   for rot in (0, 1)}


def _transpose(builder, regs):
    """The in-lane 4 × 4 word transpose of four zmm registers (sliced <-> round-key layout)."""
    a, b, c, d = (builder.bitcast(r, _W) for r in regs)
    ab0, ab1 = builder.shuffle_vector(a, b, _LO32), builder.shuffle_vector(a, b, _HI32)
    cd0, cd1 = builder.shuffle_vector(c, d, _LO32), builder.shuffle_vector(c, d, _HI32)
    return [builder.bitcast(builder.shuffle_vector(p, q, m), _Z)
            for p, q, m in ((ab0, cd0, _LO64), (ab0, cd0, _HI64), (ab1, cd1, _LO64), (ab1, cd1, _HI64))]


def _sliced(builder, regs):
    """A round key in sliced form: its words and their XOR (its ``whole``)."""
    words = [builder.bitcast(v, _W) for v in _transpose(builder, regs)]
    return words, builder.xor(builder.xor(words[0], words[1]), builder.xor(words[2], words[3]))


def _step_fn(builder):
    """``step(prev, other, rcon, rot)``: sliced round key ``r`` from those of ``r − 2`` and ``r − 1``."""
    last = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_Z, [_Z, _Z]),
                                          "llvm.x86.aesni.aesenclast.512")
    undef = ir.Constant(_B, ir.Undefined)

    def step(prev, other, rcon, rot):
        # New word 3 = prev's whole ^ rcon ^ SubWord(RotWord?(other's word 3)) is the next step's
        # input: aesenclast adds the whole as its round key, so the chain is one shuffle and one AES
        # instruction per step, with no XOR the compiler could re-associate into it.
        words, whole = prev
        x = builder.shuffle_vector(builder.bitcast(other[0][3], _B), undef, _UNDO_SHIFTROWS[rot])
        rk = builder.xor(whole, ir.Constant(_W, [rcon] * 16)) if rcon else whole
        w3 = builder.bitcast(builder.call(last, [builder.bitcast(x, _Z), builder.bitcast(rk, _Z)]), _W)
        t = builder.xor(w3, whole)  # SubWord(..) ^ rcon
        w0 = builder.xor(words[0], t)
        w1 = builder.xor(words[1], w0)
        w2 = builder.xor(words[2], w1)
        # the new key's whole: adding up w0 .. w3, t cancels and so do prev's words 0 and 2
        return [w0, w1, w2, w3], builder.xor(words[1], words[3])

    return step


def _emit_schedule(builder, step, keys, on_round):
    """The 15 round keys of four ``(k0, k1)`` zmm key pairs (sixteen keys): ``on_round(r, regs)`` with
    the four round-key registers of round ``r``, in order."""
    k0s, k1s = [k0 for k0, _ in keys], [k1 for _, k1 in keys]
    on_round(0, k0s)
    on_round(1, k1s)
    sliced = [_sliced(builder, k0s), _sliced(builder, k1s)]
    r = 2
    for rcon in _RCON:
        for rc, rot in ((rcon, 1), (0, 0)) if rcon != _RCON[-1] else ((rcon, 1),):
            sliced.append(step(sliced[-2], sliced[-1], rc, rot))
            on_round(r, _transpose(builder, sliced[-1][0]))
            r += 1


def emit_pipelined_groups(context, builder, ngroups, load_keys, begin, finish):
    """Emit a loop over ``ngroups`` (an ``intp`` value, may be 0) groups of :data:`GROUP` AES-256 keys.

    ``load_keys(g)`` emits the loads of group ``g`` (an ``intp`` value) and returns its four
    ``(k0, k1)`` pairs of ``<8 x i64>`` key halves (four keys each, one per lane); ``begin(g)``
    returns, per key register, the list of ``<8 x i64>`` plaintext registers it encrypts;
    ``finish(g, states)`` stores their ciphertexts. Group ``g + 1``'s schedule runs while group ``g``
    is encrypted; each group's keys are loaded once, before its plaintexts and its stores.
    """
    intp = ngroups.type
    i32 = ir.IntType(32)
    enc = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_Z, [_Z, _Z]), "llvm.x86.aesni.aesenc.512")
    last = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_Z, [_Z, _Z]),
                                          "llvm.x86.aesni.aesenclast.512")
    step = _step_fn(builder)
    with builder.goto_entry_block():
        # two slots (this group's round keys, the next group's) of 15 rounds x 4 registers: 7.5 KiB
        buf = builder.alloca(ir.ArrayType(ir.ArrayType(ir.ArrayType(_Z, 4), 15), 2), name="round_keys")
        buf.align = 64

    def key_ptr(slot, r, m):
        return builder.gep(buf, [i32(0), slot, i32(r), i32(m)], inbounds=True)

    def schedule_into(g, slot, cipher_round=None):
        # round r of the cipher right after round key r of the next group: the two interleaved
        def on_round(r, regs):
            for m, v in enumerate(regs):
                builder.store(v, key_ptr(slot, r, m), align=64)
            if cipher_round is not None:
                cipher_round(r)
        _emit_schedule(builder, step, load_keys(g), on_round)

    def cipher(g, slot):
        states = begin(g)

        def cipher_round(r):
            for m, blocks in enumerate(states):
                k = builder.load(key_ptr(slot, r, m), align=64)
                if r == 0:
                    states[m] = [builder.xor(b, k) for b in blocks]
                else:
                    states[m] = [builder.call(enc if r < 14 else last, [b, k]) for b in blocks]
        return states, cipher_round

    def slot_of(g):
        return builder.trunc(builder.and_(g, ir.Constant(intp, 1)), i32)

    one = ir.Constant(intp, 1)
    with builder.if_then(builder.icmp_signed(">", ngroups, ir.Constant(intp, 0))):
        schedule_into(ir.Constant(intp, 0), i32(0))
        # groups 0 .. n-2: the next group's schedule beside this group's cipher
        with cgutils.for_range(builder, builder.sub(ngroups, one)) as loop:
            g = loop.index
            states, cipher_round = cipher(g, slot_of(g))
            schedule_into(builder.add(g, one), builder.xor(slot_of(g), i32(1)), cipher_round)
            finish(g, states)
        g = builder.sub(ngroups, one)
        states, cipher_round = cipher(g, slot_of(g))
        for r in range(15):
            cipher_round(r)
        finish(g, states)
