"""AES-NI / VAES and PCLMULQDQ kernels in numba, with a detected fallback.

Why this module exists: bulk OpenSSL calls are fast for one long ECB/CTR
stream, but the dependent chains of TCCR, garbling and GGM trees need two or
more AES calls per block plus glue; fusing them into one numba loop that
issues ``aesenc`` directly roughly doubles their throughput (PERFORMANCE.md).

Safety first: LLVM aborts the whole process (SIGABRT, "Cannot select") the
first time a kernel that uses an x86 AES or carry-less-multiply intrinsic is
compiled for a target without that feature. So :data:`HAVE_AESNI`,
:data:`HAVE_PCLMUL`, :data:`HAVE_VAES` and :data:`HAVE_VPCLMUL` are decided at
import, from the very feature list numba hands to LLVM (``NUMBA_CPU_NAME`` /
``NUMBA_CPU_FEATURES`` honoured, LLVM's feature dependencies followed) and the
host CPU, and no intrinsic kernel is ever compiled unless its flag is true.
Every public function has a fallback (OpenSSL through ``cryptography``, or
pure numba without intrinsics) with byte-identical output; ``backend=``
``"auto"`` (widest available), ``"native"`` (insist on instructions),
``"aesni"`` (xmm only, no VAES/VPCLMULQDQ) or ``"fallback"`` picks the path.

Bulk functions (``(n, 16)`` uint8 in, same out): :func:`ecb_encrypt`,
:func:`cr` (CR/CCR), :func:`tccr`, :func:`tccr_wide` (``(n, 32)``),
:func:`ggm_expand_level`, :func:`gf128_mul`. The bulk AES kernels are
generated as straight-line LLVM IR, 8 xmm (AES-NI) or 8 ymm (VAES) blocks of
state per step.

Building blocks for other njit kernels (blocks are ``UniTuple(uint64, 2)``:
``(x[i, 0], x[i, 1])`` of the ``(n, 2) uint64`` view, exactly an xmm
register after a 16-byte load, so results match OpenSSL byte for byte):

* ``key_tuple(key)`` (Python) → round keys as a tuple of 11/15 blocks, pass it
  as a kernel argument; or in-kernel ``aes128_load_keys(rk)`` /
  ``aes256_load_keys(rk)`` from the ``(11, 2)`` / ``(15, 2)`` uint64 array of
  :func:`round_keys`.
* ``aes_encrypt(ks, b)`` (AES-128/256 by ``len(ks)``), ``aes128_encrypt``,
  ``aes256_encrypt``, ``aes_encrypt8(ks, (b0, ..., b7))`` (eight independent
  blocks, round-interleaved: for dependent chains such as half-gates).
* ``aes256_expand(k0, k1)`` → 15 round keys from a 32-byte key's halves.
* ``bxor(a, b)``, ``tweak_block(tw, i)``, ``ggm_children(ks, s)`` (the exact
  children of :func:`ggm_expand_level`), ``gf128_mul_block(a, b)``.
* ``pqmpc.primitives._kernels_transpose.transpose_into(mat, out)``.

Example::

    from numba import njit
    from pqmpc.primitives import aesni

    @njit(cache=True)
    def my_kernel(ks, x, out):
        for i in range(x.shape[0]):
            b = (x[i, 0], x[i, 1])
            y = aesni.bxor(aesni.aes_encrypt(ks, b), b)
            out[i, 0] = y[0]
            out[i, 1] = y[1]

    my_kernel(aesni.key_tuple(key), x.view(np.uint64), out.view(np.uint64))

The out-of-order core overlaps such independent iterations by itself
(~550 M blocks/s here). The public names are bound at import to the AES-NI
versions when :data:`HAVE_AESNI` and to a table-based pure-numba AES
otherwise, so such a kernel compiles and gives the same bytes everywhere.
Never call the ``*_ni`` functions directly without checking the flag.
The table AES is correct everywhere but not constant time (key-dependent
table lookups): fine for public keys (fixed-key π, cuckoo hashing), a
cache-timing risk for secret ones on machines without AES-NI (and on
non-x86 CPUs, which have no native path here yet).
Caveat: numba's cache keys a kernel on its own file only, so after this
module changes, clear the caller's ``__pycache__/*.nbi`` to pick up new code.
"""

from __future__ import annotations

import platform
import threading

import llvmlite.binding as _llb
import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.core import config as _nb_config
from numba.core.codegen import get_host_cpu_features as _nb_host_features
from numba.extending import intrinsic, overload

from ..errors import ParameterError
from .aes import DEFAULT_KEY, as_blocks, expand_key

# --------------------------------------------------------------------------
# Feature detection (must run before any intrinsic kernel is compiled)
# --------------------------------------------------------------------------


def _parse_features(spec: str) -> dict:
    out = {}
    for tok in (spec or "").split(","):
        tok = tok.strip()
        if len(tok) > 1 and tok[0] in "+-":
            out[tok[1:]] = tok[0] == "+"
    return out


def detect_features() -> dict:
    """What numba will compile for, and whether the CPU can run it.

    A feature counts only if numba's target enables it (the explicit
    ``+feat``/``-feat`` list numba hands to LLVM, which is the full host list
    unless ``NUMBA_CPU_FEATURES`` or ``NUMBA_CPU_NAME=generic`` replaces it)
    *and* the host CPU has it (a ``+aes`` forced on a CPU without AES would
    fault instead of abort). A feature the list leaves unnamed falls to the
    CPU model's defaults, which we know only for the host model, so an
    unknown model counts as "absent": the safe direction.
    """
    machine = platform.machine().lower()
    cpu = _nb_config.CPU_NAME or _llb.get_host_cpu_name()
    spec = _nb_config.CPU_FEATURES if _nb_config.CPU_FEATURES is not None else _nb_host_features()
    info = {"machine": machine, "cpu_name": cpu, "numba_features": spec}
    if machine not in ("x86_64", "amd64", "x86", "i686", "i386"):
        info.update({f: False for f in _CHECKED}, reason="not x86")
        return info
    try:
        host = dict(_llb.get_host_cpu_features())
    except RuntimeError:
        host = {}
    explicit = _parse_features(spec)
    host_model = cpu in ("host", _llb.get_host_cpu_name())

    def target_has(feat):
        # LLVM switches a feature off with anything it builds on (e.g. -avx2 drops vaes).
        if not all(target_has(d) for d in _DEPENDS.get(feat, ())):
            return False
        if feat in explicit:
            return explicit[feat]
        return host_model and bool(host.get(feat, False))

    for feat in _CHECKED:
        info[feat] = bool(host.get(feat, False) and target_has(feat))
    return info


_CHECKED = ("aes", "pclmul", "vaes", "vpclmulqdq", "avx2")


# What LLVM's x86 feature table makes each feature depend on (the part that matters here).
_DEPENDS = {"sse2": ("sse",), "sse3": ("sse2",), "ssse3": ("sse3",), "sse4.1": ("ssse3",), "sse4.2": ("sse4.1",),
            "avx": ("sse4.2",), "avx2": ("avx",), "aes": ("sse2",), "pclmul": ("sse2",), "vaes": ("avx2", "aes"),
            "vpclmulqdq": ("avx", "pclmul")}


FEATURES = detect_features()
#: True when numba's target and the CPU both have AES-NI: the intrinsic kernels may be compiled.
HAVE_AESNI: bool = FEATURES["aes"]
#: True when numba's target and the CPU both have PCLMULQDQ.
HAVE_PCLMUL: bool = FEATURES["pclmul"]
#: True when 256-bit VAES (two blocks per instruction) may be used as well.
HAVE_VAES: bool = HAVE_AESNI and FEATURES["vaes"] and FEATURES["avx2"]
#: True when 256-bit VPCLMULQDQ (two GF(2^128) products per instruction) may be used.
HAVE_VPCLMUL: bool = HAVE_PCLMUL and FEATURES["vpclmulqdq"] and FEATURES["avx2"]


def backend_info() -> dict:
    """Which path each kernel takes here (for ``pqmpc info``)."""
    return {
        "aes_kernels": ("numba+VAES" if HAVE_VAES else "numba+AES-NI" if HAVE_AESNI
                        else "OpenSSL (cryptography) / numba table AES"),
        "gf128": ("numba+VPCLMULQDQ" if HAVE_VPCLMUL else "numba+PCLMULQDQ" if HAVE_PCLMUL
                  else "numba (portable carry-less multiply)"),
        "cpu_name": FEATURES["cpu_name"],
    }


_BACKENDS = ("auto", "native", "aesni", "fallback", "table")


def _use_ni(backend: str, flag: bool) -> bool:
    """Whether to run an instruction kernel. ``aesni`` = native, but never the 256-bit VAES variant."""
    if backend == "auto":
        return flag
    if backend == "fallback":
        return False
    if backend in ("native", "aesni"):
        if not flag:
            raise ParameterError(f"{backend} backend requested but the CPU/numba target lacks the instruction")
        return True
    raise ParameterError(f"backend must be one of {_BACKENDS}, got {backend!r}")


def _use_vaes(backend: str) -> bool:
    return HAVE_VAES and backend in ("auto", "native")


# --------------------------------------------------------------------------
# LLVM intrinsics on UniTuple(uint64, 2) blocks
# --------------------------------------------------------------------------

_BLK = types.UniTuple(types.uint64, 2)


def _u64_array(t, ndim=2):
    """A C-contiguous uint64 array type of that rank, read-only or not (the kernels only read inputs)."""
    return isinstance(t, types.Array) and t.dtype == types.uint64 and t.ndim == ndim and t.layout == "C"


_V2 = ir.VectorType(ir.IntType(64), 2)
_I32 = ir.IntType(32)


def _to_vec(builder, tup):
    v = ir.Constant(_V2, ir.Undefined)
    v = builder.insert_element(v, builder.extract_value(tup, 0), ir.Constant(_I32, 0))
    return builder.insert_element(v, builder.extract_value(tup, 1), ir.Constant(_I32, 1))


def _to_tup(context, builder, vec):
    t = ir.Constant(context.get_value_type(_BLK), ir.Undefined)
    t = builder.insert_value(t, builder.extract_element(vec, ir.Constant(_I32, 0)), 0)
    return builder.insert_value(t, builder.extract_element(vec, ir.Constant(_I32, 1)), 1)


def _binary_intrinsic(llvm_name):
    @intrinsic
    def _op(typingctx, a, b):
        if a != _BLK or b != _BLK:
            return None

        def codegen(context, builder, sig, args):
            fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_V2, [_V2, _V2]), llvm_name)
            return _to_tup(context, builder, builder.call(fn, [_to_vec(builder, args[0]), _to_vec(builder, args[1])]))

        return _BLK(_BLK, _BLK), codegen

    return _op


def _imm_intrinsic(llvm_name, imm):
    # The immediate must be an LLVM constant, so each value gets its own intrinsic.
    i8 = ir.IntType(8)

    @intrinsic
    def _op(typingctx, a, b):
        if a != _BLK or b != _BLK:
            return None

        def codegen(context, builder, sig, args):
            fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_V2, [_V2, _V2, i8]), llvm_name)
            r = builder.call(fn, [_to_vec(builder, args[0]), _to_vec(builder, args[1]), ir.Constant(i8, imm)])
            return _to_tup(context, builder, r)

        return _BLK(_BLK, _BLK), codegen

    return _op


aesenc = _binary_intrinsic("llvm.x86.aesni.aesenc")
aesenclast = _binary_intrinsic("llvm.x86.aesni.aesenclast")
# Raw 64x64 carry-less products of blocks (njit, only where HAVE_PCLMUL):
# bit 0 of the immediate picks a's word, bit 4 b's word.
clmul_00 = _imm_intrinsic("llvm.x86.pclmulqdq", 0x00)
clmul_01 = _imm_intrinsic("llvm.x86.pclmulqdq", 0x01)
clmul_10 = _imm_intrinsic("llvm.x86.pclmulqdq", 0x10)
clmul_11 = _imm_intrinsic("llvm.x86.pclmulqdq", 0x11)

_U32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)


@njit
def bxor(a, b):
    """XOR of two blocks (njit)."""
    return (a[0] ^ b[0], a[1] ^ b[1])


# --------------------------------------------------------------------------
# Round keys: hoisted into tuples so the rounds see registers, not loads
# --------------------------------------------------------------------------


def round_keys(key: bytes) -> np.ndarray:
    """FIPS 197 key schedule as ``(11, 2)`` (AES-128) or ``(15, 2)`` (AES-256) uint64."""
    return np.ascontiguousarray(expand_key(bytes(key)).view(np.uint64))


@njit
def _k(rk, r):
    return (rk[r, 0], rk[r, 1])


@njit
def aes128_load_keys(rk):
    """(11, 2) uint64 round keys → 11-tuple of blocks (njit; call once, outside the loop)."""
    return (_k(rk, 0), _k(rk, 1), _k(rk, 2), _k(rk, 3), _k(rk, 4), _k(rk, 5),
            _k(rk, 6), _k(rk, 7), _k(rk, 8), _k(rk, 9), _k(rk, 10))


@njit
def aes256_load_keys(rk):
    """(15, 2) uint64 round keys → 15-tuple of blocks (njit)."""
    return (_k(rk, 0), _k(rk, 1), _k(rk, 2), _k(rk, 3), _k(rk, 4), _k(rk, 5),
            _k(rk, 6), _k(rk, 7), _k(rk, 8), _k(rk, 9), _k(rk, 10), _k(rk, 11),
            _k(rk, 12), _k(rk, 13), _k(rk, 14))


# --------------------------------------------------------------------------
# Block encryption with AES-NI (straight-line rounds)
# --------------------------------------------------------------------------


@njit
def aes128_encrypt_ni(ks, b):
    b = bxor(b, ks[0])
    b = aesenc(b, ks[1])
    b = aesenc(b, ks[2])
    b = aesenc(b, ks[3])
    b = aesenc(b, ks[4])
    b = aesenc(b, ks[5])
    b = aesenc(b, ks[6])
    b = aesenc(b, ks[7])
    b = aesenc(b, ks[8])
    b = aesenc(b, ks[9])
    return aesenclast(b, ks[10])


@njit
def aes256_encrypt_ni(ks, b):
    b = bxor(b, ks[0])
    b = aesenc(b, ks[1])
    b = aesenc(b, ks[2])
    b = aesenc(b, ks[3])
    b = aesenc(b, ks[4])
    b = aesenc(b, ks[5])
    b = aesenc(b, ks[6])
    b = aesenc(b, ks[7])
    b = aesenc(b, ks[8])
    b = aesenc(b, ks[9])
    b = aesenc(b, ks[10])
    b = aesenc(b, ks[11])
    b = aesenc(b, ks[12])
    b = aesenc(b, ks[13])
    return aesenclast(b, ks[14])


@njit
def _prefix_xor(a):
    # (w0, w1 | w2, w3) -> (w0, w0^w1 | w0^w1^w2, w0^w1^w2^w3): the word chain of the key schedule.
    lo = a[0] ^ (a[0] << _S32)
    hi = a[1] ^ (a[1] << _S32)
    c = lo >> _S32
    return (lo, hi ^ c ^ (c << _S32))


_V4 = ir.VectorType(_I32, 4)
_KS15 = types.UniTuple(_BLK, 15)


def _emit_expand256(context, builder, keys, on_key=None, lanes=1):
    """AES-256 key schedules for several keys, emitted step-interleaved.

    ``keys`` holds ``(k0, k1)`` vector pairs: ``<2 x i64>`` for one key each,
    or with ``lanes=2`` ``<4 x i64>`` holding two keys side by side (VAES: each
    128-bit lane runs its own schedule, shuffles and aesenclast are lane-local).

    ``on_key(j, r, k)`` is called as round key ``r`` of pair ``j`` appears, so
    a caller can emit the matching cipher round right there: in program
    order that keeps each key's use next to its birth, which the
    out-of-order window (and the register allocator) needs.

    Each schedule is a chain of 13 dependent SubWord steps; laying several
    independent chains side by side in the IR lets the core overlap them.
    """
    i8 = ir.IntType(8)
    vty = _V2 if lanes == 1 else ir.VectorType(ir.IntType(64), 4)
    wty = ir.VectorType(_I32, 4 * lanes)
    bty = ir.VectorType(i8, 16 * lanes)
    zero_w = ir.Constant(wty, None)
    undef_b = ir.Constant(bty, ir.Undefined)
    last = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(vty, [vty, vty]),
        "llvm.x86.aesni.aesenclast" if lanes == 1 else "llvm.x86.aesni.aesenclast.256")

    def mask(*m):
        return ir.Constant(ir.VectorType(_I32, len(m)), list(m))

    def per_lane(pattern, width, zero_at):
        # Repeat a 1-lane shuffle pattern in every lane; ``zero_at`` marks "take from the zero vector".
        out = []
        for ln in range(lanes):
            out += [zero_at if p is None else p + ln * width for p in pattern]
        return mask(*out)

    nz = 4 * lanes  # index of element 0 of the second (zero) shuffle operand
    shl4 = per_lane([None, 0, 1, 2], 4, nz)
    shl8 = per_lane([None, None, 0, 1], 4, nz)

    def prefix(v):
        # Word j becomes w0 ^ ... ^ wj (the "pslldq by 4, three times" chain, as a log-depth scan).
        v = builder.bitcast(v, wty)
        v = builder.xor(v, builder.shuffle_vector(v, zero_w, shl4))
        v = builder.xor(v, builder.shuffle_vector(v, zero_w, shl8))
        return v

    def half(prev, other, rcon, word):
        # SubWord through aesenclast on a state whose four columns all equal
        # word 3 of ``other`` (rotated for the rcon steps): ShiftRows is then
        # the identity, and the round key adds rcon. Same speed as
        # aeskeygenassist on xmm here, but unlike it this has a 256-bit VAES
        # form, so two schedules run per instruction.
        sel = [13, 14, 15, 12] if word == 3 else [12, 13, 14, 15]
        t = builder.shuffle_vector(builder.bitcast(other, bty), undef_b, per_lane(sel * 4, 16, 0))
        rc = builder.bitcast(ir.Constant(wty, [rcon] * (4 * lanes)), vty)
        t = builder.bitcast(builder.call(last, [builder.bitcast(t, vty), rc]), wty)
        return builder.bitcast(builder.xor(prefix(prev), t), vty)

    sched = [[k0, k1] for k0, k1 in keys]
    if on_key is not None:
        for j, ks in enumerate(sched):
            on_key(j, 0, ks[0])
            on_key(j, 1, ks[1])
    for rcon in (0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40):
        for j, ks in enumerate(sched):
            ks.append(half(ks[-2], ks[-1], rcon, 3))
            if on_key is not None:
                on_key(j, len(ks) - 1, ks[-1])
        if rcon != 0x40:
            for j, ks in enumerate(sched):
                ks.append(half(ks[-2], ks[-1], 0x00, 2))
                if on_key is not None:
                    on_key(j, len(ks) - 1, ks[-1])
    return sched


def _sched_tuple(context, builder, ks):
    t = ir.Constant(context.get_value_type(_KS15), ir.Undefined)
    for r, v in enumerate(ks):
        t = builder.insert_value(t, _to_tup(context, builder, v), r)
    return t


@intrinsic
def aes256_expand_ni(typingctx, k0, k1):
    """AES-256 key schedule in-kernel from the key's two 16-byte halves (AES-NI): 15-tuple of blocks."""
    if k0 != _BLK or k1 != _BLK:
        return None

    def codegen(context, builder, sig, args):
        ks = _emit_expand256(context, builder, [(_to_vec(builder, args[0]), _to_vec(builder, args[1]))])[0]
        return _sched_tuple(context, builder, ks)

    return _KS15(_BLK, _BLK), codegen


# --------------------------------------------------------------------------
# Table-based AES in pure numba (fallback for in-kernel use; no intrinsics)
# --------------------------------------------------------------------------


def _make_tables():
    from .aes import _sbox  # the lead's S-box derivation, not a second copy

    s = _sbox().astype(np.uint32)
    x2 = ((s << 1) ^ np.where(s & 0x80, 0x1B, 0)) & 0xFF
    x3 = x2 ^ s
    # Column contribution of a row-0 byte after SubBytes and MixColumns: (2s, s, s, 3s), little-endian.
    te0 = x2 | (s << 8) | (s << 16) | (x3 << 24)
    def rot(v, r):
        return ((v << r) | (v >> (32 - r))) & 0xFFFFFFFF

    te = np.stack([te0, rot(te0, 8), rot(te0, 16), rot(te0, 24)]).astype(np.uint64)
    return te, s.astype(np.uint64)


_TE, _SB = _make_tables()
_FF = np.uint64(0xFF)


@njit
def _cols(b):
    return b[0] & _U32, b[0] >> _S32, b[1] & _U32, b[1] >> _S32


@njit
def _tround(c0, c1, c2, c3, k):
    # Row r of output column c comes from input column c + r (ShiftRows).
    te = _TE
    e0 = (te[0, c0 & _FF] ^ te[1, (c1 >> np.uint64(8)) & _FF] ^ te[2, (c2 >> np.uint64(16)) & _FF]
          ^ te[3, c3 >> np.uint64(24)])
    e1 = (te[0, c1 & _FF] ^ te[1, (c2 >> np.uint64(8)) & _FF] ^ te[2, (c3 >> np.uint64(16)) & _FF]
          ^ te[3, c0 >> np.uint64(24)])
    e2 = (te[0, c2 & _FF] ^ te[1, (c3 >> np.uint64(8)) & _FF] ^ te[2, (c0 >> np.uint64(16)) & _FF]
          ^ te[3, c1 >> np.uint64(24)])
    e3 = (te[0, c3 & _FF] ^ te[1, (c0 >> np.uint64(8)) & _FF] ^ te[2, (c1 >> np.uint64(16)) & _FF]
          ^ te[3, c2 >> np.uint64(24)])
    return e0 ^ (k[0] & _U32), e1 ^ (k[0] >> _S32), e2 ^ (k[1] & _U32), e3 ^ (k[1] >> _S32)


@njit
def _tlast_col(a, b, c, d):
    sb = _SB
    return (sb[a & _FF] | (sb[(b >> np.uint64(8)) & _FF] << np.uint64(8))
            | (sb[(c >> np.uint64(16)) & _FF] << np.uint64(16)) | (sb[d >> np.uint64(24)] << np.uint64(24)))


@njit
def aesenc_soft(b, k):
    """One full AES round (SubBytes, ShiftRows, MixColumns, AddRoundKey) = ``aesenc`` without the instruction."""
    c0, c1, c2, c3 = _cols(b)
    e0, e1, e2, e3 = _tround(c0, c1, c2, c3, k)
    return (e0 | (e1 << _S32), e2 | (e3 << _S32))


@njit
def aesenclast_soft(b, k):
    c0, c1, c2, c3 = _cols(b)
    lo = _tlast_col(c0, c1, c2, c3) | (_tlast_col(c1, c2, c3, c0) << _S32)
    hi = _tlast_col(c2, c3, c0, c1) | (_tlast_col(c3, c0, c1, c2) << _S32)
    return (lo ^ k[0], hi ^ k[1])


@njit
def aes128_encrypt_soft(ks, b):
    b = bxor(b, ks[0])
    b = aesenc_soft(b, ks[1])
    b = aesenc_soft(b, ks[2])
    b = aesenc_soft(b, ks[3])
    b = aesenc_soft(b, ks[4])
    b = aesenc_soft(b, ks[5])
    b = aesenc_soft(b, ks[6])
    b = aesenc_soft(b, ks[7])
    b = aesenc_soft(b, ks[8])
    b = aesenc_soft(b, ks[9])
    return aesenclast_soft(b, ks[10])


@njit
def aes256_encrypt_soft(ks, b):
    b = bxor(b, ks[0])
    b = aesenc_soft(b, ks[1])
    b = aesenc_soft(b, ks[2])
    b = aesenc_soft(b, ks[3])
    b = aesenc_soft(b, ks[4])
    b = aesenc_soft(b, ks[5])
    b = aesenc_soft(b, ks[6])
    b = aesenc_soft(b, ks[7])
    b = aesenc_soft(b, ks[8])
    b = aesenc_soft(b, ks[9])
    b = aesenc_soft(b, ks[10])
    b = aesenc_soft(b, ks[11])
    b = aesenc_soft(b, ks[12])
    b = aesenc_soft(b, ks[13])
    return aesenclast_soft(b, ks[14])


@njit
def _subword(w):
    sb = _SB
    return (sb[w & _FF] | (sb[(w >> np.uint64(8)) & _FF] << np.uint64(8))
            | (sb[(w >> np.uint64(16)) & _FF] << np.uint64(16)) | (sb[(w >> np.uint64(24)) & _FF] << np.uint64(24)))


@njit
def _ks256_soft(a, b, rcon):
    w = b[1] >> _S32
    t = _subword(((w >> np.uint64(8)) | (w << np.uint64(24))) & _U32) ^ np.uint64(rcon)
    return bxor(_prefix_xor(a), (t | (t << _S32), t | (t << _S32)))


@njit
def _ks256_soft2(a, b):
    t = _subword(a[1] >> _S32)
    return bxor(_prefix_xor(b), (t | (t << _S32), t | (t << _S32)))


@njit
def aes256_expand_soft(k0, k1):
    """AES-256 key schedule from the key's two halves, without intrinsics: 15-tuple."""
    k2 = _ks256_soft(k0, k1, 0x01)
    k3 = _ks256_soft2(k2, k1)
    k4 = _ks256_soft(k2, k3, 0x02)
    k5 = _ks256_soft2(k4, k3)
    k6 = _ks256_soft(k4, k5, 0x04)
    k7 = _ks256_soft2(k6, k5)
    k8 = _ks256_soft(k6, k7, 0x08)
    k9 = _ks256_soft2(k8, k7)
    k10 = _ks256_soft(k8, k9, 0x10)
    k11 = _ks256_soft2(k10, k9)
    k12 = _ks256_soft(k10, k11, 0x20)
    k13 = _ks256_soft2(k12, k11)
    k14 = _ks256_soft(k12, k13, 0x40)
    return (k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, k10, k11, k12, k13, k14)


# The names other kernels call: bound once, here, to what this machine can run.
if HAVE_AESNI:
    aes128_encrypt = aes128_encrypt_ni
    aes256_encrypt = aes256_encrypt_ni
    aes256_expand = aes256_expand_ni
else:
    aes128_encrypt = aes128_encrypt_soft
    aes256_encrypt = aes256_encrypt_soft
    aes256_expand = aes256_expand_soft


# --------------------------------------------------------------------------
# Eight-block interleaving: independent chains keep the AES unit busy
# --------------------------------------------------------------------------


@njit
def _x8(k, b):
    b0, b1, b2, b3, b4, b5, b6, b7 = b
    return bxor(b0, k), bxor(b1, k), bxor(b2, k), bxor(b3, k), bxor(b4, k), bxor(b5, k), bxor(b6, k), bxor(b7, k)


@njit
def _r8(k, b):
    b0, b1, b2, b3, b4, b5, b6, b7 = b
    return (aesenc(b0, k), aesenc(b1, k), aesenc(b2, k), aesenc(b3, k),
            aesenc(b4, k), aesenc(b5, k), aesenc(b6, k), aesenc(b7, k))


@njit
def _l8(k, b):
    b0, b1, b2, b3, b4, b5, b6, b7 = b
    return (aesenclast(b0, k), aesenclast(b1, k), aesenclast(b2, k), aesenclast(b3, k),
            aesenclast(b4, k), aesenclast(b5, k), aesenclast(b6, k), aesenclast(b7, k))


@njit
def aes128_encrypt8_ni(ks, b):
    """Eight blocks (an 8-tuple) through AES-128, round by round across the blocks."""
    b = _x8(ks[0], b)
    b = _r8(ks[1], b)
    b = _r8(ks[2], b)
    b = _r8(ks[3], b)
    b = _r8(ks[4], b)
    b = _r8(ks[5], b)
    b = _r8(ks[6], b)
    b = _r8(ks[7], b)
    b = _r8(ks[8], b)
    b = _r8(ks[9], b)
    return _l8(ks[10], b)


@njit
def aes256_encrypt8_ni(ks, b):
    b = _x8(ks[0], b)
    b = _r8(ks[1], b)
    b = _r8(ks[2], b)
    b = _r8(ks[3], b)
    b = _r8(ks[4], b)
    b = _r8(ks[5], b)
    b = _r8(ks[6], b)
    b = _r8(ks[7], b)
    b = _r8(ks[8], b)
    b = _r8(ks[9], b)
    b = _r8(ks[10], b)
    b = _r8(ks[11], b)
    b = _r8(ks[12], b)
    b = _r8(ks[13], b)
    return _l8(ks[14], b)


def aes_encrypt_ni(ks, b):
    """AES-128 or AES-256 by the number of round keys in ``ks`` (resolved at compile time in njit code)."""
    return aes128_encrypt_ni(ks, b) if len(ks) == 11 else aes256_encrypt_ni(ks, b)


def aes_encrypt8_ni(ks, b):
    """Eight blocks through AES-128 or AES-256, by ``len(ks)``."""
    return aes128_encrypt8_ni(ks, b) if len(ks) == 11 else aes256_encrypt8_ni(ks, b)


def aes_encrypt(ks, b):
    """AES-128/256 of one block by ``len(ks)``: AES-NI where available, table AES otherwise."""
    if len(ks) == 11:
        return aes128_encrypt(ks, b)
    return aes256_encrypt(ks, b)


def aes_encrypt_soft(ks, b):
    """AES-128/256 of one block by ``len(ks)`` with the table AES (any CPU)."""
    if len(ks) == 11:
        return aes128_encrypt_soft(ks, b)
    return aes256_encrypt_soft(ks, b)


def _by_key_count(f128, f256):
    def typer(ks, b):
        if isinstance(ks, types.BaseTuple) and len(ks) in (11, 15):
            return f128 if len(ks) == 11 else f256
        return None
    return typer


@overload(aes_encrypt_ni)
def _ov_enc_ni(ks, b):
    f = _by_key_count(aes128_encrypt_ni, aes256_encrypt_ni)(ks, b)
    if f is not None:
        return lambda ks, b: f(ks, b)


@overload(aes_encrypt8_ni)
def _ov_enc8_ni(ks, b):
    f = _by_key_count(aes128_encrypt8_ni, aes256_encrypt8_ni)(ks, b)
    if f is not None:
        return lambda ks, b: f(ks, b)


@overload(aes_encrypt_soft)
def _ov_enc_soft(ks, b):
    f = _by_key_count(aes128_encrypt_soft, aes256_encrypt_soft)(ks, b)
    if f is not None:
        return lambda ks, b: f(ks, b)


@overload(aes_encrypt)
def _ov_enc(ks, b):
    f = _by_key_count(aes128_encrypt, aes256_encrypt)(ks, b)
    if f is not None:
        return lambda ks, b: f(ks, b)


def aes_encrypt8_soft(ks, b):
    """Eight blocks (an 8-tuple) through the table AES, by ``len(ks)``."""
    return (aes_encrypt_soft(ks, b[0]), aes_encrypt_soft(ks, b[1]), aes_encrypt_soft(ks, b[2]),
            aes_encrypt_soft(ks, b[3]), aes_encrypt_soft(ks, b[4]), aes_encrypt_soft(ks, b[5]),
            aes_encrypt_soft(ks, b[6]), aes_encrypt_soft(ks, b[7]))


def aes_encrypt8(ks, b):
    """Eight independent blocks (an 8-tuple) through AES-128/256 by ``len(ks)``, round by round
    across the blocks with AES-NI (table AES otherwise). For dependent chains such as garbling,
    where the core cannot find the parallelism itself."""
    return aes_encrypt8_ni(ks, b) if HAVE_AESNI else aes_encrypt8_soft(ks, b)


@overload(aes_encrypt8_soft)
def _ov_enc8_soft(ks, b):
    if isinstance(ks, types.BaseTuple) and len(ks) in (11, 15):
        return lambda ks, b: (aes_encrypt_soft(ks, b[0]), aes_encrypt_soft(ks, b[1]), aes_encrypt_soft(ks, b[2]),
                              aes_encrypt_soft(ks, b[3]), aes_encrypt_soft(ks, b[4]), aes_encrypt_soft(ks, b[5]),
                              aes_encrypt_soft(ks, b[6]), aes_encrypt_soft(ks, b[7]))


@overload(aes_encrypt8)
def _ov_enc8(ks, b):
    if isinstance(ks, types.BaseTuple) and len(ks) in (11, 15):
        if HAVE_AESNI:
            return lambda ks, b: aes_encrypt8_ni(ks, b)
        return lambda ks, b: aes_encrypt8_soft(ks, b)


_KEY_TUPLES: dict = {}
_KEY_ARRAYS: dict = {}


def _rk_array(key: bytes) -> np.ndarray:
    rk = _KEY_ARRAYS.get(key)
    if rk is None:
        rk = round_keys(key)
        if len(_KEY_ARRAYS) < 64:
            _KEY_ARRAYS[key] = rk
    return rk


def key_tuple(key: bytes) -> tuple:
    """Round keys of ``key`` as a tuple of 11 or 15 ``(uint64, uint64)`` blocks: pass it straight to a kernel."""
    key = bytes(key)
    kt = _KEY_TUPLES.get(key)
    if kt is None:
        rk = round_keys(key)
        kt = tuple((np.uint64(rk[r, 0]), np.uint64(rk[r, 1])) for r in range(rk.shape[0]))
        if len(_KEY_TUPLES) < 64:
            _KEY_TUPLES[key] = kt
    return kt


@njit
def _st(out, i, b):
    out[i, 0] = b[0]
    out[i, 1] = b[1]


# --------------------------------------------------------------------------
# ECB
# --------------------------------------------------------------------------


def _out_blocks(out, n, width=16):
    if out is None:
        return np.empty((n, width), dtype=np.uint8)
    if not (isinstance(out, np.ndarray) and out.dtype == np.uint8 and out.shape == (n, width)
            and out.flags.c_contiguous):
        raise ParameterError(f"out must be a C-contiguous ({n}, {width}) uint8 array")
    return out


_TLS = threading.local()


def _ecb_openssl(key: bytes, x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """OpenSSL AES-ECB of all rows of ``x`` straight into ``out`` (may alias ``x``), one call per part.

    ``update_into`` wants 15 spare output bytes; rather than going through a
    scratch copy of the whole batch, all blocks but the last are written in
    place (n-1 blocks + 15 bytes fit in n blocks) and the last goes through
    a 32-byte buffer. Contexts are cached per thread and key (not shareable).
    """
    encs = getattr(_TLS, "encs", None)
    if encs is None:
        encs = _TLS.encs = {}
    enc = encs.get(key)
    if enc is None:
        if len(encs) > 64:
            encs.clear()
        enc = encs[key] = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    n = x.shape[0]
    if n == 0:
        return out
    src, dst = x.reshape(-1), out.reshape(-1)
    if n > 1:
        enc.update_into(src[:-16], dst)
    tail = np.empty(32, dtype=np.uint8)
    enc.update_into(src[-16:], tail)
    dst[-16:] = tail[:16]
    return out


def ecb_encrypt(key: bytes, x, out=None, backend: str = "auto") -> np.ndarray:
    """AES-ECB of the ``(n, 16)`` rows of ``x`` under a 16- or 32-byte ``key``.

    Same bytes as ``cryptography``'s AES-ECB. ``backend``: ``"auto"`` (AES-NI
    kernel when available), ``"native"`` (insist on it), ``"fallback"``
    (OpenSSL). ``out`` may alias ``x``.
    """
    key = bytes(key)
    if len(key) not in (16, 32):
        raise ParameterError(f"AES key must be 16 or 32 bytes, got {len(key)}")
    x = as_blocks(x, name="x")
    out = _out_blocks(out, x.shape[0])
    if not _use_ni(backend, HAVE_AESNI):
        return _ecb_openssl(key, x, out)
    xv, ov = x.view(np.uint64), out.view(np.uint64)
    done = _ecb_vaes(_rk_array(key), xv, ov) if _use_vaes(backend) else 0
    _ecb_ni(_rk_array(key), xv[done:], ov[done:])
    return out


# --------------------------------------------------------------------------
# CR / CCR: π(x) ⊕ x and π(σ(x)) ⊕ σ(x)
# --------------------------------------------------------------------------


def cr(x, key: bytes | None = None, sigma: bool = False, out=None, backend: str = "auto") -> np.ndarray:
    """``π(y) ⊕ y`` per row with ``y = x`` (CR) or ``y = σ(x)`` (``sigma=True``: CCR), π = AES under ``key``."""
    key = DEFAULT_KEY if key is None else bytes(key)
    x = as_blocks(x, name="x")
    out = _out_blocks(out, x.shape[0])
    if _use_ni(backend, HAVE_AESNI):
        xv, ov = x.view(np.uint64), out.view(np.uint64)
        done = _cr_vaes(_rk_array(key), xv, ov, bool(sigma)) if _use_vaes(backend) else 0
        _cr_ni(_rk_array(key), xv[done:], ov[done:], bool(sigma))
        return out
    y = x
    if sigma:
        w = x.view(np.uint64)
        y = np.empty_like(x)
        y.view(np.uint64)[:, 0] = w[:, 1]
        y.view(np.uint64)[:, 1] = w[:, 0] ^ w[:, 1]
    _ecb_openssl(key, y, out)
    out ^= y
    return out


# --------------------------------------------------------------------------
# Tweaks
# --------------------------------------------------------------------------

_TOP = np.uint64(1) << np.uint64(63)


def tweak_block(tw, i):
    """Tweak ``i`` as a block: ``(tw[i], 0)`` for an ``(n,)`` integer array, row ``i`` for ``(n, 2)`` uint64."""
    if tw.ndim == 1:
        return (np.uint64(tw[i]), np.uint64(0))
    return (tw[i, 0], tw[i, 1])


@overload(tweak_block)
def _ov_tweak_block(tw, i):
    if isinstance(tw, types.Array) and tw.ndim == 1:
        return lambda tw, i: (np.uint64(tw[i]), np.uint64(0))
    if isinstance(tw, types.Array) and tw.ndim == 2:
        return lambda tw, i: (tw[i, 0], tw[i, 1])


def _tweak_arg(tweak, n):
    """``(n,)`` uint64 or ``(n, 2)`` uint64 view of the caller's tweak, without copying when possible."""
    t = np.asarray(tweak)
    if t.ndim == 2:
        return as_blocks(t, name="tweak").view(np.uint64) if t.shape[0] == n else _bad_tweak(n)
    if t.ndim != 1 or t.shape[0] != n or t.dtype.kind not in "ui":
        _bad_tweak(n)
    return np.ascontiguousarray(t, dtype=np.uint64)


def _bad_tweak(n):
    raise ParameterError(f"tweak must be (n,) integers or (n, 16) uint8 blocks for n = {n}")


# --------------------------------------------------------------------------
# TCCR: π(π(x) ⊕ i) ⊕ π(x), fused
# --------------------------------------------------------------------------


def _tweak_blocks_np(tw):
    if tw.ndim == 2:
        return tw
    t = np.zeros((tw.shape[0], 2), dtype=np.uint64)
    t[:, 0] = tw
    return t


def tccr(x, tweak, key: bytes | None = None, out=None, backend: str = "auto") -> np.ndarray:
    """Tweakable circular correlation-robust hash ``π(π(x) ⊕ i) ⊕ π(x)`` row by row.

    π is AES under the public ``key`` (default: the project's fixed key,
    AES-128; a 32-byte key gives AES-256). ``tweak``: ``(n,)`` integers (the
    tweak block is ``i`` little-endian in the low 8 bytes, zeros above) or
    ``(n, 16)`` uint8 blocks. Same bytes as :func:`pqmpc.primitives.hashing.tccr`.
    """
    key = DEFAULT_KEY if key is None else bytes(key)
    x = as_blocks(x, name="x")
    n = x.shape[0]
    tw = _tweak_arg(tweak, n)
    out = _out_blocks(out, n)
    if _use_ni(backend, HAVE_AESNI):
        xv, ov = x.view(np.uint64), out.view(np.uint64)
        done = _tccr_vaes(_rk_array(key), xv, tw, ov) if _use_vaes(backend) else 0
        _tccr_ni(_rk_array(key), xv[done:], tw[done:], ov[done:])
        return out
    px = _ecb_openssl(key, x, np.empty_like(x))
    y = px.view(np.uint64) ^ _tweak_blocks_np(tw)
    _ecb_openssl(key, y.view(np.uint8), out)
    out ^= px
    return out


# --------------------------------------------------------------------------
# Wide TCCR for 32-byte blocks (the 256-bit "doubled key" mode)
# --------------------------------------------------------------------------


def _wide_rows_intrinsic(rows):
    """``rows`` consecutive rows of the wide hash starting at ``i``, as one piece of IR.

    Key schedules and the 2 * rows encryptions are interleaved step by step so
    the independent chains overlap; building it in IR (instead of nested
    tuples of 15 round keys) also keeps numba's compile time low.
    """

    @intrinsic
    def _rows(typingctx, x, tw, out, i):
        if not (_u64_array(x) and _u64_array(out) and out.mutable and isinstance(i, types.Integer)):
            return None
        if not (_u64_array(tw, 1) or _u64_array(tw, 2)):
            return None

        def codegen(context, builder, sig, args):
            x_v, tw_v, out_v, i_v = args
            xty, twty = sig.args[0], sig.args[1]
            intp = context.get_value_type(types.intp)
            xa = context.make_array(xty)(context, builder, x_v)
            oa = context.make_array(sig.args[2])(context, builder, out_v)
            ta = context.make_array(twty)(context, builder, tw_v)
            i_v = context.cast(builder, i_v, sig.args[3], types.intp)

            def vptr(ary, aty, row, col):
                p = cgutils.get_item_pointer(context, builder, aty, ary, [row, ir.Constant(intp, col)])
                return builder.bitcast(p, _V2.as_pointer())

            keys, tws = [], []
            for j in range(rows):
                r = builder.add(i_v, ir.Constant(intp, j))
                keys.append((builder.load(vptr(xa, xty, r, 0), align=8), builder.load(vptr(xa, xty, r, 2), align=8)))
                if twty.ndim == 1:
                    w = builder.load(cgutils.get_item_pointer(context, builder, twty, ta, [r]))
                    t = builder.insert_element(ir.Constant(_V2, None), w, ir.Constant(_I32, 0))
                else:
                    t = builder.load(vptr(ta, twty, r, 0), align=8)
                tws.append(t)
            enc = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_V2, [_V2, _V2]),
                                                 "llvm.x86.aesni.aesenc")
            last = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_V2, [_V2, _V2]),
                                                  "llvm.x86.aesni.aesenclast")
            top = ir.Constant(_V2, [0, 1 << 63])
            state = [[t, builder.or_(t, top)] for t in tws]

            def on_key(j, r, k):
                if r == 0:
                    state[j] = [builder.xor(b, k) for b in state[j]]
                else:
                    fn = enc if r < 14 else last
                    state[j] = [builder.call(fn, [b, k]) for b in state[j]]

            _emit_expand256(context, builder, keys, on_key)
            for j in range(rows):
                r = builder.add(i_v, ir.Constant(intp, j))
                builder.store(state[j][0], vptr(oa, sig.args[2], r, 0), align=8)
                builder.store(state[j][1], vptr(oa, sig.args[2], r, 2), align=8)
            return context.get_dummy_value()

        return types.void(x, tw, out, types.intp), codegen

    return _rows


_wide8_ni = _wide_rows_intrinsic(8)


def _wide_rows_vaes_intrinsic(rows):
    """Like ``_wide_rows_intrinsic`` with rows taken in pairs, one per 128-bit lane of a ymm register.

    Both the key schedules and the cipher run two rows per instruction, and
    each pair's round key is already laid out lane by lane, so nothing has
    to be broadcast.
    """
    assert rows % 2 == 0

    @intrinsic
    def _rows(typingctx, x, tw, out, i):
        if not (_u64_array(x) and _u64_array(out) and out.mutable and isinstance(i, types.Integer)):
            return None
        if not (_u64_array(tw, 1) or _u64_array(tw, 2)):
            return None

        def codegen(context, builder, sig, args):
            x_v, tw_v, out_v, i_v = args
            xty, twty = sig.args[0], sig.args[1]
            intp = context.get_value_type(types.intp)
            y4 = ir.VectorType(ir.IntType(64), 4)
            xa = context.make_array(xty)(context, builder, x_v)
            oa = context.make_array(sig.args[2])(context, builder, out_v)
            ta = context.make_array(twty)(context, builder, tw_v)
            i_v = context.cast(builder, i_v, sig.args[3], types.intp)

            def mask(*m):
                return ir.Constant(ir.VectorType(_I32, len(m)), list(m))

            def ptr(ary, aty, idx, vt):
                p = cgutils.get_item_pointer(context, builder, aty, ary, idx)
                return builder.bitcast(p, vt.as_pointer())

            keys, tws = [], []
            zero = ir.Constant(intp, 0)
            for j in range(0, rows, 2):
                r0 = builder.add(i_v, ir.Constant(intp, j))
                r1 = builder.add(i_v, ir.Constant(intp, j + 1))
                a = builder.load(ptr(xa, xty, [r0, zero], y4), align=8)  # [lo_j, hi_j]
                b = builder.load(ptr(xa, xty, [r1, zero], y4), align=8)  # [lo_j+1, hi_j+1]
                keys.append((builder.shuffle_vector(a, b, mask(0, 1, 4, 5)),
                             builder.shuffle_vector(a, b, mask(2, 3, 6, 7))))
                if twty.ndim == 1:
                    t2 = builder.load(ptr(ta, twty, [r0], _V2), align=8)
                    tws.append(builder.shuffle_vector(t2, ir.Constant(_V2, None), mask(0, 2, 1, 2)))
                else:
                    tws.append(builder.load(ptr(ta, twty, [r0, zero], y4), align=8))
            enc = cgutils.get_or_insert_function(builder.module, ir.FunctionType(y4, [y4, y4]),
                                                 "llvm.x86.aesni.aesenc.256")
            last = cgutils.get_or_insert_function(builder.module, ir.FunctionType(y4, [y4, y4]),
                                                  "llvm.x86.aesni.aesenclast.256")
            top = ir.Constant(y4, [0, 1 << 63, 0, 1 << 63])
            state = [[t, builder.or_(t, top)] for t in tws]

            def on_key(j, r, k):
                if r == 0:
                    state[j] = [builder.xor(b, k) for b in state[j]]
                else:
                    fn = enc if r < 14 else last
                    state[j] = [builder.call(fn, [b, k]) for b in state[j]]

            _emit_expand256(context, builder, keys, on_key, lanes=2)
            for j in range(0, rows, 2):
                s0, s1 = state[j // 2]
                r0 = builder.add(i_v, ir.Constant(intp, j))
                r1 = builder.add(i_v, ir.Constant(intp, j + 1))
                builder.store(builder.shuffle_vector(s0, s1, mask(0, 1, 4, 5)),
                              ptr(oa, sig.args[2], [r0, zero], y4), align=8)
                builder.store(builder.shuffle_vector(s0, s1, mask(2, 3, 6, 7)),
                              ptr(oa, sig.args[2], [r1, zero], y4), align=8)
            return context.get_dummy_value()

        return types.void(x, tw, out, types.intp), codegen

    return _rows


_wide8_vaes = _wide_rows_vaes_intrinsic(8)


@njit(cache=True, nogil=True)
def _tccr_wide_vaes(x, tw, out):
    stop = x.shape[0] - x.shape[0] % 8
    for i in range(0, stop, 8):
        _wide8_vaes(x, tw, out, i)
    return stop

_wide1_ni = _wide_rows_intrinsic(1)


@njit
def _wkey(x, i):
    return ((x[i, 0], x[i, 1]), (x[i, 2], x[i, 3]))


@njit
def _wst(out, i, y0, y1):
    out[i, 0] = y0[0]
    out[i, 1] = y0[1]
    out[i, 2] = y1[0]
    out[i, 3] = y1[1]


@njit
def _hi(t):
    return (t[0], t[1] | _TOP)


@njit(cache=True, nogil=True)
def _tccr_wide_ni(x, tw, out):
    n = x.shape[0]
    i = 0
    while i + 8 <= n:
        _wide8_ni(x, tw, out, i)
        i += 8
    while i < n:
        _wide1_ni(x, tw, out, i)
        i += 1


@njit(cache=True, nogil=True)
def _tccr_wide_soft(x, tw, out):
    n = x.shape[0]
    for i in range(n):
        ks = aes256_expand_soft((x[i, 0], x[i, 1]), (x[i, 2], x[i, 3]))
        t = tweak_block(tw, i)
        y0 = aes256_encrypt_soft(ks, t)
        _wst(out, i, y0, aes256_encrypt_soft(ks, _hi(t)))


def _tccr_wide_openssl(x, tw, out):
    # One OpenSSL context per row (the row is the key): constant time wherever
    # OpenSSL is, unlike the table AES, at ~1-3 us per row.
    pt = np.empty((x.shape[0], 4), dtype=np.uint64)
    pt[:, :2] = _tweak_blocks_np(tw)
    pt[:, 2:] = pt[:, :2]
    pt[:, 3] |= _TOP
    ptb = pt.view(np.uint8)
    buf = np.empty(48, dtype=np.uint8)
    for i in range(x.shape[0]):
        enc = Cipher(algorithms.AES(x[i].tobytes()), modes.ECB()).encryptor()
        enc.update_into(ptb[i], buf)
        out[i] = buf[:32]
    return out


def tccr_wide(x, tweak, out=None, backend: str = "auto") -> np.ndarray:
    """Tweakable correlation-robust hash of ``(n, 32)`` blocks to ``(n, 32)``, for κ = 256.

    Definition: with ``E_k`` AES-256 under the 32-byte key ``k`` and ``T`` the
    tweak block (as in :func:`tccr`)::

        H(x, T) = E_x(T) ‖ E_x(T + 2^127)        (each half 16 bytes)

    i.e. the row ``x`` itself is the AES-256 key and the two plaintexts are the
    tweak with its top bit (bit 7 of byte 15) clear and set. Block tweaks must
    therefore have that bit clear (``ParameterError`` otherwise); integer
    tweaks always do.

    Why it is correlation robust at the 128-bit post-quantum level: in the
    ideal-cipher model every key selects an independent random permutation.
    The protocol evaluates H at ``x ⊕ Δ`` for a secret uniform 256-bit Δ; an
    adversary learns nothing about ``E_{x⊕Δ}`` unless one of its own offline
    cipher evaluations uses exactly the key ``x ⊕ Δ``, which takes ~2^256
    classical or ~2^128 quantum (Grover) work — unlike fixed-key AES-128
    constructions, whose 128-bit permutation inputs fall to ~2^64 Grover.
    The plaintexts ``(T, j)`` are distinct for distinct (tweak, half), so
    outputs for one key are distinct values of one random permutation
    (distance 2^-128 from independent). Related-key caveat: the keys the
    oracle uses differ by attacker-chosen XORs, and AES-256 has related-key
    boomerang attacks (Biryukov–Khovratovich 2009), but those need ~2^99.5
    related-key *oracle* queries, i.e. 2^99.5 protocol OTs, far outside any
    run; offline they give nothing.

    Cost: one in-kernel AES-256 key schedule plus two 14-round encryptions
    per 32 bytes; measured ~1.5-1.6x :func:`tccr`'s time per byte (VAES and
    xmm AES-NI alike). Without AES-NI: ``backend="fallback"`` (what "auto"
    picks) uses one OpenSSL context per row, constant time but ~0.5 M rows/s;
    ``backend="table"`` uses the numba table AES, ~10x faster but its
    key-dependent table lookups are not constant time.
    """
    x = as_blocks(x, width=32, name="x")
    n = x.shape[0]
    tw = _tweak_arg(tweak, n)
    if tw.ndim == 2 and n and np.any(tw[:, 1] & _TOP):
        raise ParameterError("tccr_wide block tweaks must have the top bit (bit 7 of byte 15) clear")
    out = _out_blocks(out, n, 32)
    xv, ov = x.view(np.uint64), out.view(np.uint64)
    if backend == "table":
        _tccr_wide_soft(xv, tw, ov)
        return out
    if not _use_ni(backend, HAVE_AESNI):
        _tccr_wide_openssl(x, tw, out)
        return out
    done = _tccr_wide_vaes(xv, tw, ov) if _use_vaes(backend) else 0
    _tccr_wide_ni(xv[done:], tw[done:], ov[done:])
    return out


# --------------------------------------------------------------------------
# GGM tree level
# --------------------------------------------------------------------------

#: The public offset of the right child: ``c`` = the block 0x01 00 .. 00 (bit 0 set).
GGM_C = (np.uint64(1), np.uint64(0))


@njit
def ggm_children(ks, s):
    """njit building block: the two children of seed block ``s`` exactly as :func:`ggm_expand_level`
    computes them (``ks`` from :func:`key_tuple`; AES-NI or table AES as available)."""
    r = bxor(s, GGM_C)
    return bxor(aes_encrypt(ks, s), s), bxor(aes_encrypt(ks, r), r)


def ggm_expand_level(parents, key: bytes | None = None, out=None, backend: str = "auto") -> np.ndarray:
    """One level of a GGM tree: ``(m, 16)`` parents → ``(2m, 16)`` children.

    Parent ``j``'s children are rows ``2j`` (left) and ``2j + 1`` (right)::

        left  = π(s) ⊕ s
        right = π(s ⊕ c) ⊕ s ⊕ c,   c = GGM_C (the block with only bit 0 set)

    with π AES under the public ``key`` (default the project's fixed key),
    i.e. the correlation-robust ``cr`` at ``s`` and ``s ⊕ c``: a
    length-doubling PRG for uniform secret ``s`` when π is modelled as a
    random permutation. ``out`` must not alias ``parents``.
    """
    key = DEFAULT_KEY if key is None else bytes(key)
    s = as_blocks(parents, name="parents")
    m = s.shape[0]
    out = _out_blocks(out, 2 * m)
    if _use_ni(backend, HAVE_AESNI):
        sv, ov = s.view(np.uint64), out.view(np.uint64)
        done = _ggm_vaes(_rk_array(key), sv, ov) if _use_vaes(backend) else 0
        _ggm_ni(_rk_array(key), sv[done:], ov[2 * done:])
        return out
    both = out.view(np.uint64).reshape(m, 2, 2)
    both[:, 0] = s.view(np.uint64)
    both[:, 1] = both[:, 0]
    both[:, 1, 0] ^= GGM_C[0]
    both[:, 1, 1] ^= GGM_C[1]
    inp = out.copy()
    _ecb_openssl(key, inp, out)
    out ^= inp
    return out


# --------------------------------------------------------------------------
# GF(2^128): x^128 + x^7 + x^2 + x + 1, little-endian polynomial basis
# --------------------------------------------------------------------------

_M32 = (np.uint64(0x11111111), np.uint64(0x22222222), np.uint64(0x44444444), np.uint64(0x88888888))
_M64 = (np.uint64(0x1111111111111111), np.uint64(0x2222222222222222),
        np.uint64(0x4444444444444444), np.uint64(0x8888888888888888))


@njit
def _fold(r0, r1, r2, r3):
    # x^128 = x^7 + x^2 + x + 1: fold the top 128 bits down, then the <= 7 bits that spill past x^127 again.
    one, two, sev = np.uint64(1), np.uint64(2), np.uint64(7)
    t1 = r3 ^ (r3 << one) ^ (r3 << two) ^ (r3 << sev)
    spill = (r3 >> np.uint64(63)) ^ (r3 >> np.uint64(62)) ^ (r3 >> np.uint64(57))
    t0 = r2 ^ (r2 << one) ^ (r2 << two) ^ (r2 << sev)
    t1 ^= (r2 >> np.uint64(63)) ^ (r2 >> np.uint64(62)) ^ (r2 >> np.uint64(57))
    t0 ^= spill ^ (spill << one) ^ (spill << two) ^ (spill << sev)
    return (r0 ^ t0, r1 ^ t1)


def _emit_gfmul(builder, va, vb, lanes=1):
    """GF(2^128) products lane by lane: ``<2 x i64>`` (PCLMULQDQ) or ``<4 x i64>`` (VPCLMULQDQ, two at once)."""
    i8 = ir.IntType(8)
    vty = _V2 if lanes == 1 else ir.VectorType(ir.IntType(64), 4)
    name = "llvm.x86.pclmulqdq" if lanes == 1 else "llvm.x86.pclmulqdq.256"
    fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vty, [vty, vty, i8]), name)

    def cl(x, y, imm):
        return builder.call(fn, [x, y, ir.Constant(i8, imm)])

    def lane_mask(pattern):
        # pattern over one lane's two words; 2*lanes = first word of the zero operand
        z = 2 * lanes
        return ir.Constant(ir.VectorType(_I32, 2 * lanes),
                           [z if p is None else p + 2 * ln for ln in range(lanes) for p in pattern])

    zero = ir.Constant(vty, None)
    red = ir.Constant(vty, [0x87, 0] * lanes)
    lo = cl(va, vb, 0x00)
    hi = cl(va, vb, 0x11)
    mid = builder.xor(cl(va, vb, 0x10), cl(va, vb, 0x01))
    lo = builder.xor(lo, builder.shuffle_vector(mid, zero, lane_mask([None, 0])))   # mid << 64
    hi = builder.xor(hi, builder.shuffle_vector(mid, zero, lane_mask([1, None])))   # mid >> 64
    # x^128 = 0x87: hi0*0x87 lands in bits 0..134, hi1*0x87 in 64..198; the bits past 127 fold once more.
    lo = builder.xor(lo, cl(hi, red, 0x00))
    u = cl(hi, red, 0x01)
    lo = builder.xor(lo, builder.shuffle_vector(u, zero, lane_mask([None, 0])))
    return builder.xor(lo, cl(u, red, 0x01))


@intrinsic
def gf128_mul_ni(typingctx, a, b):
    """One GF(2^128) product with PCLMULQDQ (njit; only where HAVE_PCLMUL).

    Written as one piece of vector IR so the 256-bit product and both folds
    stay in xmm registers (tuple round trips through GPRs cost ~40%).
    """
    if a != _BLK or b != _BLK:
        return None

    def codegen(context, builder, sig, args):
        r = _emit_gfmul(builder, _to_vec(builder, args[0]), _to_vec(builder, args[1]))
        return _to_tup(context, builder, r)

    return _BLK(_BLK, _BLK), codegen


@intrinsic
def _gf_step_vpclmul(typingctx, a, b, out, i):
    """Rows i .. i+8 of a GF(2^128) batch, two products per VPCLMULQDQ."""
    if not (_u64_array(a) and _u64_array(b) and _u64_array(out) and out.mutable and isinstance(i, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        y4 = ir.VectorType(ir.IntType(64), 4)
        intp = context.get_value_type(types.intp)
        i_v = context.cast(builder, args[3], sig.args[3], types.intp)
        arrs = [context.make_array(t)(context, builder, v) for t, v in zip(sig.args[:3], args[:3])]
        zero = ir.Constant(intp, 0)

        def ptr(k, j):
            p = cgutils.get_item_pointer(context, builder, sig.args[k], arrs[k],
                                         [builder.add(i_v, ir.Constant(intp, j)), zero])
            return builder.bitcast(p, y4.as_pointer())

        for j in range(0, 8, 2):
            va = builder.load(ptr(0, j), align=8)
            vb = builder.load(ptr(1, j), align=8)
            builder.store(_emit_gfmul(builder, va, vb, lanes=2), ptr(2, j), align=8)
        return context.get_dummy_value()

    return types.void(a, b, out, types.intp), codegen


@njit(cache=True, nogil=True)
def _gf_mul_vpclmul(a, b, out):
    stop = a.shape[0] - a.shape[0] % 8
    for i in range(0, stop, 8):
        _gf_step_vpclmul(a, b, out, i)
    return stop


@njit
def _bmul32(x, y):
    # Carry-less 32x32 -> 64 with integer multiplies on bits spaced 4 apart:
    # every 4-bit slot sums at most 8 products, so carries never reach the next slot.
    x0, x1, x2, x3 = x & _M32[0], x & _M32[1], x & _M32[2], x & _M32[3]
    y0, y1, y2, y3 = y & _M32[0], y & _M32[1], y & _M32[2], y & _M32[3]
    z0 = (x0 * y0) ^ (x1 * y3) ^ (x2 * y2) ^ (x3 * y1)
    z1 = (x0 * y1) ^ (x1 * y0) ^ (x2 * y3) ^ (x3 * y2)
    z2 = (x0 * y2) ^ (x1 * y1) ^ (x2 * y0) ^ (x3 * y3)
    z3 = (x0 * y3) ^ (x1 * y2) ^ (x2 * y1) ^ (x3 * y0)
    return (z0 & _M64[0]) | (z1 & _M64[1]) | (z2 & _M64[2]) | (z3 & _M64[3])


@njit
def _clmul64_soft(a, b):
    al, ah = a & _U32, a >> _S32
    bl, bh = b & _U32, b >> _S32
    p0 = _bmul32(al, bl)
    p2 = _bmul32(ah, bh)
    p1 = _bmul32(al ^ ah, bl ^ bh) ^ p0 ^ p2
    return p0 ^ (p1 << _S32), p2 ^ (p1 >> _S32)


@njit
def gf128_mul_soft(a, b):
    """One GF(2^128) product without intrinsics, constant time (njit)."""
    l0, l1 = _clmul64_soft(a[0], b[0])
    h0, h1 = _clmul64_soft(a[1], b[1])
    m0, m1 = _clmul64_soft(a[0] ^ a[1], b[0] ^ b[1])
    m0 ^= l0 ^ h0
    m1 ^= l1 ^ h1
    return _fold(l0, l1 ^ m0, h0 ^ m1, h1)


if HAVE_PCLMUL:
    gf128_mul_block = gf128_mul_ni
else:
    gf128_mul_block = gf128_mul_soft


@njit(cache=True, nogil=True)
def _gf_mul_ni(a, b, out):
    for i in range(a.shape[0]):
        _st(out, i, gf128_mul_ni((a[i, 0], a[i, 1]), (b[i, 0], b[i, 1])))


@njit(cache=True, nogil=True)
def _gf_mul_soft(a, b, out):
    for i in range(a.shape[0]):
        _st(out, i, gf128_mul_soft((a[i, 0], a[i, 1]), (b[i, 0], b[i, 1])))


def gf128_mul(a, b, out=None, backend: str = "auto") -> np.ndarray:
    """Row-wise GF(2^128) products of two ``(n, 16)`` block arrays (same semantics as ``gf128.mul``)."""
    a = as_blocks(a, name="a")
    b = as_blocks(b, name="b")
    if a.shape != b.shape:
        raise ParameterError(f"operands differ in shape: {a.shape} vs {b.shape}")
    out = _out_blocks(out, a.shape[0])
    av, bv, ov = a.view(np.uint64), b.view(np.uint64), out.view(np.uint64)
    if not _use_ni(backend, HAVE_PCLMUL):
        _gf_mul_soft(av, bv, ov)
        return out
    done = _gf_mul_vpclmul(av, bv, ov) if HAVE_VPCLMUL and backend in ("auto", "native") else 0
    _gf_mul_ni(av[done:], bv[done:], ov[done:])
    return out


# --------------------------------------------------------------------------
# VAES: the same bulk kernels two blocks per instruction (ymm), as IR
# --------------------------------------------------------------------------

_Y4 = ir.VectorType(ir.IntType(64), 4)


def _aes_step_intrinsic(kind, rounds, lanes, nvec):
    """One unrolled step of a bulk kernel, as LLVM IR: ``nvec`` independent registers of state.

    ``kind``: ecb, cr, ccr, tccr or ggm; ``rounds``: 10 (AES-128) or 14
    (AES-256); ``lanes``: 1 (xmm, AES-NI: ``nvec`` blocks per step) or 2 (ymm,
    VAES: ``2 * nvec`` blocks). Rows ``i ..`` of the ``(n, 2)`` uint64 views are
    read and written; for ggm, ``i`` counts parents and a parent takes two
    block slots (left, right). Round keys come from the ``(rounds + 1, 2)``
    array; VAES broadcasts each to both lanes. Writing the step in IR (not
    numba tuples) keeps rounds straight-line and cold compiles short.
    """
    vty = _V2 if lanes == 1 else _Y4
    suffix = "" if lanes == 1 else ".256"

    @intrinsic
    def _step(typingctx, rk, x, tw, out, i):
        if not (_u64_array(rk) and _u64_array(x) and _u64_array(out) and out.mutable
                and isinstance(i, types.Integer)):
            return None
        if not (_u64_array(tw, 1) or _u64_array(tw, 2)):
            return None

        def codegen(context, builder, sig, args):
            rk_v, x_v, tw_v, out_v, i_v = args
            rkty, xty, twty, oty = sig.args[:4]
            intp = context.get_value_type(types.intp)
            i_v = context.cast(builder, i_v, sig.args[4], types.intp)
            ra = context.make_array(rkty)(context, builder, rk_v)
            xa = context.make_array(xty)(context, builder, x_v)
            oa = context.make_array(oty)(context, builder, out_v)
            ta = context.make_array(twty)(context, builder, tw_v)

            def c(v):
                return ir.Constant(intp, v)

            def ptr(ary, aty, row, vt):
                idx = [row] if aty.ndim == 1 else [row, c(0)]
                return builder.bitcast(cgutils.get_item_pointer(context, builder, aty, ary, idx), vt.as_pointer())

            def mask(*m):
                return ir.Constant(ir.VectorType(_I32, len(m)), list(m))

            def per_lane(pattern):
                # a one-lane (two-word) shuffle pattern repeated per lane; None = word 0 of the zero operand
                z = 2 * lanes
                return mask(*[z if q is None else q + 2 * ln for ln in range(lanes) for q in pattern])

            undef2 = ir.Constant(_V2, ir.Undefined)
            zero = ir.Constant(vty, None)

            def bcast(v2):
                return v2 if lanes == 1 else builder.shuffle_vector(v2, undef2, mask(0, 1, 0, 1))

            keys = [bcast(builder.load(ptr(ra, rkty, c(r), _V2), align=8)) for r in range(rounds + 1)]
            fenc = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vty, [vty, vty]),
                                                  "llvm.x86.aesni.aesenc" + suffix)
            flast = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vty, [vty, vty]),
                                                   "llvm.x86.aesni.aesenclast" + suffix)

            def encrypt(vs):
                vs = [builder.xor(v, keys[0]) for v in vs]
                for r in range(1, rounds):
                    vs = [builder.call(fenc, [v, keys[r]]) for v in vs]
                return [builder.call(flast, [v, keys[rounds]]) for v in vs]

            def row(j):
                return builder.add(i_v, c(j))

            if kind == "ggm":
                cc = ir.Constant(_V2, [int(GGM_C[0]), int(GGM_C[1])])
                ins = []
                if lanes == 1:
                    # parent p -> slots (s, s ^ c) -> child rows 2(i+p), 2(i+p)+1
                    for q in range(nvec // 2):
                        sv = builder.load(ptr(xa, xty, row(q), _V2), align=8)
                        ins += [sv, builder.xor(sv, cc)]
                else:
                    # ymm q = [s_q, s_q ^ c]: both children of parent q in one register
                    ccy = ir.Constant(_Y4, [0, 0, int(GGM_C[0]), int(GGM_C[1])])
                    for q in range(nvec):
                        sv = builder.load(ptr(xa, xty, row(q), _V2), align=8)
                        ins.append(builder.xor(bcast(sv), ccy))
                ys = [builder.xor(y, s_) for y, s_ in zip(encrypt(ins), ins)]
                base = builder.mul(i_v, c(2))
                for q, y in enumerate(ys):
                    builder.store(y, ptr(oa, oty, builder.add(base, c(lanes * q)), vty), align=8)
                return context.get_dummy_value()

            ins = [builder.load(ptr(xa, xty, row(lanes * j), vty), align=8) for j in range(nvec)]
            if kind == "ecb":
                ys = encrypt(ins)
            elif kind in ("cr", "ccr"):
                if kind == "ccr":
                    # σ(xL‖xR) = (xL⊕xR)‖xL per 128-bit lane: (w1, w0^w1).
                    ins = [builder.xor(builder.shuffle_vector(v, zero, per_lane([1, 0])),
                                       builder.shuffle_vector(v, zero, per_lane([None, 1]))) for v in ins]
                ys = [builder.xor(y, s_) for y, s_ in zip(encrypt(ins), ins)]
            else:
                ps = encrypt(ins)
                tws = []
                for j in range(nvec):
                    if twty.ndim == 2:
                        tws.append(builder.load(ptr(ta, twty, row(lanes * j), vty), align=8))
                    elif lanes == 1:
                        w = builder.load(cgutils.get_item_pointer(context, builder, twty, ta, [row(j)]))
                        tws.append(builder.insert_element(ir.Constant(_V2, None), w, ir.Constant(_I32, 0)))
                    else:
                        t2 = builder.load(ptr(ta, twty, row(2 * j), _V2), align=8)
                        tws.append(builder.shuffle_vector(t2, ir.Constant(_V2, None), mask(0, 2, 1, 2)))
                ys = encrypt([builder.xor(p_, t_) for p_, t_ in zip(ps, tws)])
                ys = [builder.xor(y, p_) for y, p_ in zip(ys, ps)]
            for j in range(nvec):
                builder.store(ys[j], ptr(oa, oty, row(lanes * j), vty), align=8)
            return context.get_dummy_value()

        return types.void(rk, x, tw, out, types.intp), codegen

    return _step


_KINDS = ("ecb", "cr", "ccr", "tccr", "ggm")
# Step shapes: VAES 8 ymm = 16 blocks; AES-NI 8 xmm = 8 blocks; single-block tails (ggm: one parent = 2 slots).
_SY = {(k, r): _aes_step_intrinsic(k, r, 2, 8) for k in _KINDS for r in (10, 14)}
_SX = {(k, r): _aes_step_intrinsic(k, r, 1, 8) for k in _KINDS for r in (10, 14)}
_S1 = {(k, r): _aes_step_intrinsic(k, r, 1, 2 if k == "ggm" else 1) for k in _KINDS for r in (10, 14)}
_y_ecb10, _y_ecb14, _x_ecb10, _x_ecb14 = _SY["ecb", 10], _SY["ecb", 14], _SX["ecb", 10], _SX["ecb", 14]
_y_cr10, _y_cr14, _x_cr10, _x_cr14 = _SY["cr", 10], _SY["cr", 14], _SX["cr", 10], _SX["cr", 14]
_y_ccr10, _y_ccr14, _x_ccr10, _x_ccr14 = _SY["ccr", 10], _SY["ccr", 14], _SX["ccr", 10], _SX["ccr", 14]
_y_tccr10, _y_tccr14, _x_tccr10, _x_tccr14 = _SY["tccr", 10], _SY["tccr", 14], _SX["tccr", 10], _SX["tccr", 14]
_y_ggm10, _y_ggm14, _x_ggm10, _x_ggm14 = _SY["ggm", 10], _SY["ggm", 14], _SX["ggm", 10], _SX["ggm", 14]
_1_ecb10, _1_ecb14, _1_cr10, _1_cr14 = _S1["ecb", 10], _S1["ecb", 14], _S1["cr", 10], _S1["cr", 14]
_1_ccr10, _1_ccr14, _1_tccr10, _1_tccr14 = _S1["ccr", 10], _S1["ccr", 14], _S1["tccr", 10], _S1["tccr", 14]
_1_ggm10, _1_ggm14 = _S1["ggm", 10], _S1["ggm", 14]


# The bulk loops. ``*_vaes`` do whole 16-block steps and return how far they
# got; ``*_ni`` finish (or do everything, without VAES) with 8-block steps and
# single blocks. They are separate functions so that a CPU without VAES never
# compiles a ymm AES instruction.

@njit(cache=True, nogil=True)
def _ecb_vaes(rk, x, out):
    stop = x.shape[0] - x.shape[0] % 16
    for i in range(0, stop, 16):
        if rk.shape[0] == 11:
            _y_ecb10(rk, x, x, out, i)
        else:
            _y_ecb14(rk, x, x, out, i)
    return stop


@njit(cache=True, nogil=True)
def _ecb_ni(rk, x, out):
    n = x.shape[0]
    i = 0
    while i + 8 <= n:
        if rk.shape[0] == 11:
            _x_ecb10(rk, x, x, out, i)
        else:
            _x_ecb14(rk, x, x, out, i)
        i += 8
    while i < n:
        if rk.shape[0] == 11:
            _1_ecb10(rk, x, x, out, i)
        else:
            _1_ecb14(rk, x, x, out, i)
        i += 1


@njit(cache=True, nogil=True)
def _cr_vaes(rk, x, out, sig):
    stop = x.shape[0] - x.shape[0] % 16
    for i in range(0, stop, 16):
        if rk.shape[0] == 11:
            if sig:
                _y_ccr10(rk, x, x, out, i)
            else:
                _y_cr10(rk, x, x, out, i)
        else:
            if sig:
                _y_ccr14(rk, x, x, out, i)
            else:
                _y_cr14(rk, x, x, out, i)
    return stop


@njit(cache=True, nogil=True)
def _cr_ni(rk, x, out, sig):
    n = x.shape[0]
    i = 0
    while i + 8 <= n:
        if rk.shape[0] == 11:
            if sig:
                _x_ccr10(rk, x, x, out, i)
            else:
                _x_cr10(rk, x, x, out, i)
        else:
            if sig:
                _x_ccr14(rk, x, x, out, i)
            else:
                _x_cr14(rk, x, x, out, i)
        i += 8
    while i < n:
        if rk.shape[0] == 11:
            if sig:
                _1_ccr10(rk, x, x, out, i)
            else:
                _1_cr10(rk, x, x, out, i)
        else:
            if sig:
                _1_ccr14(rk, x, x, out, i)
            else:
                _1_cr14(rk, x, x, out, i)
        i += 1


@njit(cache=True, nogil=True)
def _tccr_vaes(rk, x, tw, out):
    stop = x.shape[0] - x.shape[0] % 16
    for i in range(0, stop, 16):
        if rk.shape[0] == 11:
            _y_tccr10(rk, x, tw, out, i)
        else:
            _y_tccr14(rk, x, tw, out, i)
    return stop


@njit(cache=True, nogil=True)
def _tccr_ni(rk, x, tw, out):
    n = x.shape[0]
    i = 0
    while i + 8 <= n:
        if rk.shape[0] == 11:
            _x_tccr10(rk, x, tw, out, i)
        else:
            _x_tccr14(rk, x, tw, out, i)
        i += 8
    while i < n:
        if rk.shape[0] == 11:
            _1_tccr10(rk, x, tw, out, i)
        else:
            _1_tccr14(rk, x, tw, out, i)
        i += 1


@njit(cache=True, nogil=True)
def _ggm_vaes(rk, s, out):
    stop = s.shape[0] - s.shape[0] % 8
    for j in range(0, stop, 8):
        if rk.shape[0] == 11:
            _y_ggm10(rk, s, s, out, j)
        else:
            _y_ggm14(rk, s, s, out, j)
    return stop


@njit(cache=True, nogil=True)
def _ggm_ni(rk, s, out):
    m = s.shape[0]
    j = 0
    while j + 4 <= m:
        if rk.shape[0] == 11:
            _x_ggm10(rk, s, s, out, j)
        else:
            _x_ggm14(rk, s, s, out, j)
        j += 4
    while j < m:
        if rk.shape[0] == 11:
            _1_ggm10(rk, s, s, out, j)
        else:
            _1_ggm14(rk, s, s, out, j)
        j += 1



@njit(cache=True, nogil=True)
def _gf_dot_ni(a, b):
    acc = (np.uint64(0), np.uint64(0))
    for i in range(a.shape[0]):
        acc = bxor(acc, gf128_mul_ni((a[i, 0], a[i, 1]), (b[i, 0], b[i, 1])))
    return acc


@njit(cache=True, nogil=True)
def _gf_dot_soft(a, b):
    acc = (np.uint64(0), np.uint64(0))
    for i in range(a.shape[0]):
        acc = bxor(acc, gf128_mul_soft((a[i, 0], a[i, 1]), (b[i, 0], b[i, 1])))
    return acc


def gf128_dot(a, b, backend: str = "auto") -> np.ndarray:
    """``Σ_i a_i · b_i`` in GF(2^128) over two ``(n, 16)`` block arrays, as one ``(16,)`` block.

    The shape of KOS-style and Ferret consistency checks (random challenges
    times correlations, summed), without materialising the n products.
    """
    a = as_blocks(a, name="a")
    b = as_blocks(b, name="b")
    if a.shape != b.shape:
        raise ParameterError(f"operands differ in shape: {a.shape} vs {b.shape}")
    kern = _gf_dot_ni if _use_ni(backend, HAVE_PCLMUL) else _gf_dot_soft
    acc = kern(a.view(np.uint64), b.view(np.uint64))
    return np.array(acc, dtype=np.uint64).view(np.uint8)
