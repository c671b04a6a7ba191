"""Symmetric building blocks, all batched over (n, 16) uint8 block arrays.

One module per concept: :mod:`.cpu` (instruction detection), :mod:`.blocks`
(the block validator), :mod:`.aes` (OpenSSL AES, fixed key), :mod:`.aes_kernels`
(numba AES building blocks, ECB), :mod:`.hashing` (CR/CCR/TCCR, protocol
tags, SHAKE), :mod:`.ggm`, :mod:`.gf128`, :mod:`.prg` (CTR PRG),
:mod:`.bits` / :mod:`.transpose_kernels` (bit vectors, transpose).
"""

from . import aes, aes_kernels, bits, blocks, cpu, gf128, ggm, hashing, prg, transpose_kernels
from .aes import FixedKeyAES, aes_ctr, aes_ecb
from .bits import pack_bits, transpose, unpack_bits
from .hashing import ccr, cr, shake, tccr, tccr_wide
from .prg import MultiKeyCTR, SeedExpander, prg_expand

__all__ = ["aes", "aes_kernels", "bits", "blocks", "cpu", "gf128", "ggm", "hashing", "prg", "transpose_kernels",
           "FixedKeyAES", "aes_ecb", "aes_ctr", "cr", "ccr", "tccr", "tccr_wide", "shake", "MultiKeyCTR",
           "SeedExpander", "prg_expand", "pack_bits", "unpack_bits", "transpose"]
