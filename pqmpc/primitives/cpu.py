"""Which AES / carry-less-multiply instructions numba may compile for, decided once at import.

Why this comes first: LLVM aborts the whole process (SIGABRT, "Cannot
select") the first time a kernel that uses an x86 AES or carry-less-multiply
intrinsic is compiled for a target without that feature. So the flags below
are decided from the very feature list numba hands to LLVM
(``NUMBA_CPU_NAME`` / ``NUMBA_CPU_FEATURES`` honoured, LLVM's feature
dependencies followed) and from the host CPU, and no intrinsic kernel is ever
compiled unless its flag is true.

``backend=`` arguments of the bulk functions (:mod:`.aes_kernels`,
:mod:`.hashing`, :mod:`.ggm`, :mod:`.gf128`) take one of :data:`BACKENDS`:
``"auto"`` (widest available), ``"native"`` (insist on the instructions),
``"aesni"`` (xmm only, no VAES/VPCLMULQDQ) or ``"fallback"`` (OpenSSL through
``cryptography`` for AES, plain numba for GF(2^128)); all give the same bytes.
"""

from __future__ import annotations

import platform

import llvmlite.binding as _llb
from numba.core import config as _nb_config
from numba.core.codegen import get_host_cpu_features as _nb_host_features

from ..errors import ParameterError

__all__ = ["BACKENDS", "FEATURES", "HAVE_AESNI", "HAVE_PCLMUL", "HAVE_VAES", "HAVE_VPCLMUL", "HAVE_ZMM",
           "backend_info",
           "detect_features", "host_and_target_have", "parse_features", "use_native", "use_vaes"]


def parse_features(spec: str) -> dict:
    """``"+aes,-pclmul"`` → ``{"aes": True, "pclmul": False}`` (tokens without a sign are ignored)."""
    out = {}
    for tok in (spec or "").split(","):
        tok = tok.strip()
        if len(tok) > 1 and tok[0] in "+-":
            out[tok[1:]] = tok[0] == "+"
    return out


_CHECKED = ("aes", "pclmul", "vaes", "vpclmulqdq", "avx2")

# What LLVM's x86 feature table makes each feature depend on (the part that matters here).
_DEPENDS = {"sse2": ("sse",), "sse3": ("sse2",), "ssse3": ("sse3",), "sse4.1": ("ssse3",), "sse4.2": ("sse4.1",),
            "avx": ("sse4.2",), "avx2": ("avx",), "aes": ("sse2",), "pclmul": ("sse2",), "vaes": ("avx2", "aes"),
            "vpclmulqdq": ("avx", "pclmul")}


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
    explicit = parse_features(spec)
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


FEATURES = detect_features()
#: True when numba's target and the CPU both have AES-NI: the intrinsic kernels may be compiled.
HAVE_AESNI: bool = FEATURES["aes"]
#: True when numba's target and the CPU both have PCLMULQDQ.
HAVE_PCLMUL: bool = FEATURES["pclmul"]
#: True when 256-bit VAES (two blocks per instruction) may be used as well.
HAVE_VAES: bool = HAVE_AESNI and FEATURES["vaes"] and FEATURES["avx2"]
#: True when 256-bit VPCLMULQDQ (two GF(2^128) products per instruction) may be used.
HAVE_VPCLMUL: bool = HAVE_PCLMUL and FEATURES["vpclmulqdq"] and FEATURES["avx2"]


def host_and_target_have(*feats: str) -> bool:
    """Whether the CPU has every named LLVM feature and numba's target enables it (an explicit
    ``+feat`` in its list, or, for the host model, the host's own default): the check of the
    zmm kernels (AVX-512 F/BW/VL, VBMI, GFNI), which :func:`detect_features` does not list."""
    try:
        host = dict(_llb.get_host_cpu_features())
    except RuntimeError:
        return False
    explicit = parse_features(FEATURES["numba_features"])
    host_model = FEATURES["cpu_name"] in ("host", _llb.get_host_cpu_name())
    return all(host.get(f, False) and explicit.get(f, host_model) for f in feats)


#: 512-bit VAES and VPCLMULQDQ (four blocks per instruction): AVX-512 F/BW/VL usable by numba's
#: target and present on the CPU, with VAES and VPCLMULQDQ. The zmm kernels' common test.
HAVE_ZMM: bool = HAVE_VAES and HAVE_VPCLMUL and host_and_target_have("avx512f", "avx512bw", "avx512vl")


def backend_info() -> dict:
    """Which path each kernel takes here (for ``pqmpc info``).

    ``njit_building_blocks`` names what the in-kernel AES building blocks
    (:mod:`.aes_kernels`) run on: without AES-NI that is a table AES, which
    is not constant time; every bulk function of this package then runs on
    OpenSSL instead.
    """
    return {
        "aes_kernels": ("numba+VAES" if HAVE_VAES else "numba+AES-NI" if HAVE_AESNI
                        else "OpenSSL (cryptography)"),
        "njit_building_blocks": ("AES-NI" if HAVE_AESNI else "table AES (not constant time)"),
        "gf128": ("numba+VPCLMULQDQ" if HAVE_VPCLMUL else "numba+PCLMULQDQ" if HAVE_PCLMUL
                  else "numba (portable carry-less multiply)"),
        "cpu_name": FEATURES["cpu_name"],
    }


#: Accepted ``backend=`` values.
BACKENDS = ("auto", "native", "aesni", "fallback")


def use_native(backend: str, flag: bool) -> bool:
    """Whether to run an instruction kernel. ``aesni`` = native, but never the 256-bit VAES variant."""
    if backend == "auto":
        return flag
    if backend == "fallback":
        return False
    if backend in ("native", "aesni"):
        if not flag:
            raise ParameterError(f"{backend} backend requested but the CPU/numba target lacks the instruction")
        return True
    raise ParameterError(f"backend must be one of {BACKENDS}, got {backend!r}")


def use_vaes(backend: str) -> bool:
    """Whether the 256-bit VAES kernels may run for this ``backend`` (checked by :func:`use_native` first)."""
    return HAVE_VAES and backend in ("auto", "native")
