"""AES-NI and PCLMULQDQ kernels in numba, with a detected fallback.

Why this module exists: bulk OpenSSL calls are fast for one long ECB/CTR
stream, but the dependent chains of TCCR, garbling and GGM trees need two or
more AES calls per block plus glue; fusing them into one numba loop that
issues ``aesenc`` directly roughly doubles their throughput
(docs in ``PERFORMANCE.md``).

Safety first: LLVM aborts the whole process (SIGABRT, "Cannot select") the
first time a kernel that uses an x86 AES or carry-less-multiply intrinsic is
compiled for a target without that feature. So :data:`HAVE_AESNI` and
:data:`HAVE_PCLMUL` are decided at import, from the very feature set numba
compiles for (``NUMBA_CPU_NAME`` / ``NUMBA_CPU_FEATURES`` honoured), and no
intrinsic kernel is ever compiled unless its flag is true. Every public
function has a fallback (OpenSSL through ``cryptography``, or pure numba
without intrinsics) with byte-identical output.

Blocks inside kernels are ``UniTuple(uint64, 2)``: ``(x[i, 0], x[i, 1])`` of
the ``(n, 2) uint64`` view of an ``(n, 16) uint8`` array. That is exactly the
``<2 x i64>`` an xmm register holds after a 16-byte load, so results match
OpenSSL byte for byte.

Using the njit building blocks from another kernel (garbling, GGM, ...)::

    from numba import njit
    from pqmpc.primitives import aesni

    rk = aesni.round_keys(key)            # (11, 2) or (15, 2) uint64, outside the kernel

    @njit(cache=True)
    def my_kernel(rk, x, out):
        ks = aesni.aes128_load_keys(rk)   # hoist: an 11-tuple of blocks, lives in registers
        for i in range(x.shape[0]):
            b = aesni.aes128_encrypt(ks, (x[i, 0], x[i, 1]))
            out[i, 0] = b[0]
            out[i, 1] = b[1]

``aes128_encrypt`` / ``aes256_encrypt`` are bound at import to the AES-NI
version when :data:`HAVE_AESNI` and to a table-based pure-numba AES
otherwise, so such a kernel compiles and gives the same bytes everywhere.
Never call the ``*_ni`` functions directly without checking the flag.
"""

from __future__ import annotations

import platform

import llvmlite.binding as _llb
import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.core import config as _nb_config
from numba.core.codegen import get_host_cpu_features as _nb_host_features
from numba.extending import intrinsic

from ..errors import ParameterError
from .aes import DEFAULT_KEY, FixedKeyAES, as_blocks, expand_key

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
    if machine not in ("x86_64", "amd64"):
        info.update(aes=False, pclmul=False, reason="not x86-64")
        return info
    try:
        host = dict(_llb.get_host_cpu_features())
    except RuntimeError:
        host = {}
    explicit = _parse_features(spec)
    host_model = cpu in ("host", _llb.get_host_cpu_name())

    def target_has(feat):
        if feat in explicit:
            return explicit[feat]
        return host_model and bool(host.get(feat, False))

    # LLVM drops aes/pclmul when the SSE level they build on is switched off.
    base = all(explicit.get(f, True) for f in ("sse", "sse2"))
    for feat in ("aes", "pclmul"):
        info[feat] = bool(base and host.get(feat, False) and target_has(feat))
    return info


FEATURES = detect_features()
#: True when numba's target and the CPU both have AES-NI: the intrinsic kernels may be compiled.
HAVE_AESNI: bool = FEATURES["aes"]
#: True when numba's target and the CPU both have PCLMULQDQ.
HAVE_PCLMUL: bool = FEATURES["pclmul"]


def backend_info() -> dict:
    """Which path each kernel takes here (for ``pqmpc info``)."""
    return {
        "aes_kernels": "numba+AES-NI" if HAVE_AESNI else "OpenSSL (cryptography) / numba table AES",
        "gf128": "numba+PCLMULQDQ" if HAVE_PCLMUL else "numba (portable carry-less multiply)",
        "cpu_name": FEATURES["cpu_name"],
    }


def _use_ni(backend: str, flag: bool) -> bool:
    if backend == "auto":
        return flag
    if backend == "fallback":
        return False
    if backend == "native":
        if not flag:
            raise ParameterError("native backend requested but the CPU/numba target lacks the instruction")
        return True
    raise ParameterError(f"backend must be 'auto', 'native' or 'fallback', got {backend!r}")


# --------------------------------------------------------------------------
# LLVM intrinsics on UniTuple(uint64, 2) blocks
# --------------------------------------------------------------------------

_BLK = types.UniTuple(types.uint64, 2)
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


def _imm_intrinsic(llvm_name, imm, binary):
    # The immediate must be an LLVM constant, so each value gets its own intrinsic.
    i8 = ir.IntType(8)
    if binary:
        @intrinsic
        def _op(typingctx, a, b):
            if a != _BLK or b != _BLK:
                return None

            def codegen(context, builder, sig, args):
                fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_V2, [_V2, _V2, i8]), llvm_name)
                r = builder.call(fn, [_to_vec(builder, args[0]), _to_vec(builder, args[1]), ir.Constant(i8, imm)])
                return _to_tup(context, builder, r)

            return _BLK(_BLK, _BLK), codegen
    else:
        @intrinsic
        def _op(typingctx, a):
            if a != _BLK:
                return None

            def codegen(context, builder, sig, args):
                fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_V2, [_V2, i8]), llvm_name)
                return _to_tup(context, builder, builder.call(fn, [_to_vec(builder, args[0]), ir.Constant(i8, imm)]))

            return _BLK(_BLK), codegen
    return _op


aesenc = _binary_intrinsic("llvm.x86.aesni.aesenc")
aesenclast = _binary_intrinsic("llvm.x86.aesni.aesenclast")
# PCLMULQDQ: bit 0 of the immediate picks a's word, bit 4 b's word.
clmul_00 = _imm_intrinsic("llvm.x86.pclmulqdq", 0x00, True)
clmul_01 = _imm_intrinsic("llvm.x86.pclmulqdq", 0x01, True)
clmul_10 = _imm_intrinsic("llvm.x86.pclmulqdq", 0x10, True)
clmul_11 = _imm_intrinsic("llvm.x86.pclmulqdq", 0x11, True)
_keygen = {r: _imm_intrinsic("llvm.x86.aesni.aeskeygenassist", r, False)
           for r in (0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40)}
_kg0, _kg1, _kg2, _kg4 = _keygen[0x00], _keygen[0x01], _keygen[0x02], _keygen[0x04]
_kg8, _kg16, _kg32, _kg64 = _keygen[0x08], _keygen[0x10], _keygen[0x20], _keygen[0x40]

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


@njit
def _bcast_hi(t):
    w = t[1] >> _S32
    w = w | (w << _S32)
    return (w, w)


@njit
def _bcast_2(t):
    w = t[1] & _U32
    w = w | (w << _S32)
    return (w, w)


@njit
def _ks256_step(a, b, t):
    # t = aeskeygenassist(b, rcon): word 3 is RotWord(SubWord(w7)) ^ rcon.
    a = bxor(_prefix_xor(a), _bcast_hi(t))
    return a


@njit
def _ks256_step2(a, b):
    # Second half of an AES-256 step: SubWord of the new word 3, no rotation, no rcon.
    return bxor(_prefix_xor(b), _bcast_2(_kg0(a)))


@njit
def aes256_expand_ni(k0, k1):
    """AES-256 key schedule in-kernel from the key's two halves (AES-NI): 15-tuple."""
    k2 = _ks256_step(k0, k1, _kg1(k1))
    k3 = _ks256_step2(k2, k1)
    k4 = _ks256_step(k2, k3, _kg2(k3))
    k5 = _ks256_step2(k4, k3)
    k6 = _ks256_step(k4, k5, _kg4(k5))
    k7 = _ks256_step2(k6, k5)
    k8 = _ks256_step(k6, k7, _kg8(k7))
    k9 = _ks256_step2(k8, k7)
    k10 = _ks256_step(k8, k9, _kg16(k9))
    k11 = _ks256_step2(k10, k9)
    k12 = _ks256_step(k10, k11, _kg32(k11))
    k13 = _ks256_step2(k12, k11)
    k14 = _ks256_step(k12, k13, _kg64(k13))
    return (k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, k10, k11, k12, k13, k14)


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
    rot = lambda v, r: ((v << r) | (v >> (32 - r))) & 0xFFFFFFFF  # noqa: E731
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


@njit
def _ld8(x, i):
    return ((x[i, 0], x[i, 1]), (x[i + 1, 0], x[i + 1, 1]), (x[i + 2, 0], x[i + 2, 1]), (x[i + 3, 0], x[i + 3, 1]),
            (x[i + 4, 0], x[i + 4, 1]), (x[i + 5, 0], x[i + 5, 1]), (x[i + 6, 0], x[i + 6, 1]),
            (x[i + 7, 0], x[i + 7, 1]))


@njit
def _st(out, i, b):
    out[i, 0] = b[0]
    out[i, 1] = b[1]


@njit
def _st8(out, i, b):
    _st(out, i, b[0])
    _st(out, i + 1, b[1])
    _st(out, i + 2, b[2])
    _st(out, i + 3, b[3])
    _st(out, i + 4, b[4])
    _st(out, i + 5, b[5])
    _st(out, i + 6, b[6])
    _st(out, i + 7, b[7])


@njit
def _xor8(a, b):
    return (bxor(a[0], b[0]), bxor(a[1], b[1]), bxor(a[2], b[2]), bxor(a[3], b[3]),
            bxor(a[4], b[4]), bxor(a[5], b[5]), bxor(a[6], b[6]), bxor(a[7], b[7]))


# --------------------------------------------------------------------------
# ECB
# --------------------------------------------------------------------------


@njit(cache=True)
def _ecb128_ni(rk, x, out):
    ks = aes128_load_keys(rk)
    n = x.shape[0]
    i = 0
    while i + 8 <= n:
        _st8(out, i, aes128_encrypt8_ni(ks, _ld8(x, i)))
        i += 8
    while i < n:
        _st(out, i, aes128_encrypt_ni(ks, (x[i, 0], x[i, 1])))
        i += 1


@njit(cache=True)
def _ecb256_ni(rk, x, out):
    ks = aes256_load_keys(rk)
    n = x.shape[0]
    i = 0
    while i + 8 <= n:
        _st8(out, i, aes256_encrypt8_ni(ks, _ld8(x, i)))
        i += 8
    while i < n:
        _st(out, i, aes256_encrypt_ni(ks, (x[i, 0], x[i, 1])))
        i += 1


def _out_blocks(out, n, width=16):
    if out is None:
        return np.empty((n, width), dtype=np.uint8)
    if not (isinstance(out, np.ndarray) and out.dtype == np.uint8 and out.shape == (n, width)
            and out.flags.c_contiguous):
        raise ParameterError(f"out must be a C-contiguous ({n}, {width}) uint8 array")
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
        return FixedKeyAES(key).permute(x, out)
    rk = round_keys(key)
    (_ecb128_ni if len(key) == 16 else _ecb256_ni)(rk, x.view(np.uint64), out.view(np.uint64))
    return out
