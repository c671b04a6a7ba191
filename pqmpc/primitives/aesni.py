"""Compatibility module: the names ``pqmpc.primitives.aesni`` exported before the kernel API was split.

Everything here now lives in one module per concept; import from there:

* CPU features, backends: :mod:`.cpu` (``HAVE_AESNI``, ``HAVE_PCLMUL``,
  ``HAVE_VAES``, ``HAVE_VPCLMUL``, ``FEATURES``, ``detect_features``,
  ``parse_features``, ``backend_info``)
* AES building blocks, round keys, bulk ECB: :mod:`.aes_kernels`
  (``aes_encrypt``, ``aes128_encrypt``, ``aes_encrypt8``, ``aes256_expand``,
  ``key_tuple``, ``round_keys``, ``fixed_key_schedule``, ``ecb_encrypt``, ...)
* raw intrinsics: :mod:`.llvm_ir`; table AES: :mod:`.aes_table`
* CR / CCR / TCCR / wide TCCR (bulk and njit) and protocol tags: :mod:`.hashing`
* GGM: :mod:`.ggm`; GF(2^128): :mod:`.gf128`; CTR PRG: :mod:`.prg`;
  transpose: :mod:`.transpose_kernels`

Kept until gc/, ot/ and psi/ have moved; new code must not import it.
"""

from __future__ import annotations

import platform  # noqa: F401  (tests monkeypatch ``aesni.platform.machine``)

from numba.core import config as _nb_config  # noqa: F401

from . import hashing as _hashing
from .aes import DEFAULT_KEY, as_blocks, expand_key
from .aes_kernels import (
    aes128_encrypt,
    aes128_encrypt8_ni,
    aes128_encrypt_ni,
    aes128_load_keys,
    aes256_encrypt,
    aes256_encrypt8_ni,
    aes256_encrypt_ni,
    aes256_expand,
    aes256_load_keys,
    aes_encrypt,
    aes_encrypt8,
    aes_encrypt8_ni,
    aes_encrypt8_soft,
    aes_encrypt_ni,
    aes_encrypt_soft,
    ecb_encrypt,
    fixed_key_schedule,
    key_tuple,
    round_keys,
)
from .aes_table import aes128_encrypt_soft, aes256_encrypt_soft, aes256_expand_soft, aesenc_soft, aesenclast_soft
from .cpu import (
    FEATURES,
    HAVE_AESNI,
    HAVE_PCLMUL,
    HAVE_VAES,
    HAVE_VPCLMUL,
    backend_info,
    detect_features,
    parse_features,
)
from .gf128 import gf128_dot, gf128_mul, gf128_mul_block, gf128_mul_ni, gf128_mul_soft
from .ggm import GGM_C, ggm_children, ggm_expand_level
from .hashing import tccr_wide, tweak_block
from .llvm_ir import aes256_expand_ni, aesenc, aesenclast, bxor, clmul_00, clmul_01, clmul_10, clmul_11

_parse_features = parse_features


def cr(x, key: bytes | None = None, sigma: bool = False, out=None, backend: str = "auto"):
    """Old signature of :func:`.hashing.cr` / :func:`.hashing.ccr` (``sigma=True``)."""
    f = _hashing.ccr if sigma else _hashing.cr
    return f(x, key=key, out=out, backend=backend)


def tccr(x, tweak, key: bytes | None = None, out=None, backend: str = "auto", tag: int = 0):
    """Old signature of :func:`.hashing.tccr` (``key`` third instead of ``perm``)."""
    return _hashing.tccr(x, tweak, key=key, out=out, backend=backend, tag=tag)


__all__ = ["DEFAULT_KEY", "FEATURES", "GGM_C", "HAVE_AESNI", "HAVE_PCLMUL", "HAVE_VAES", "HAVE_VPCLMUL",
           "aes128_encrypt", "aes128_encrypt8_ni", "aes128_encrypt_ni", "aes128_encrypt_soft", "aes128_load_keys",
           "aes256_encrypt", "aes256_encrypt8_ni", "aes256_encrypt_ni", "aes256_encrypt_soft", "aes256_expand",
           "aes256_expand_ni", "aes256_expand_soft", "aes256_load_keys", "aes_encrypt", "aes_encrypt8",
           "aes_encrypt8_ni", "aes_encrypt8_soft", "aes_encrypt_ni", "aes_encrypt_soft", "aesenc", "aesenc_soft",
           "aesenclast", "aesenclast_soft", "as_blocks", "backend_info", "bxor", "clmul_00", "clmul_01", "clmul_10",
           "clmul_11", "cr", "detect_features", "ecb_encrypt", "expand_key", "fixed_key_schedule", "gf128_dot",
           "gf128_mul", "gf128_mul_block", "gf128_mul_ni", "gf128_mul_soft", "ggm_children", "ggm_expand_level",
           "key_tuple", "round_keys", "tccr", "tccr_wide", "tweak_block"]
