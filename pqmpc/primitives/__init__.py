"""Symmetric building blocks, all batched over (n, 16) uint8 block arrays."""

from . import aes, bits, gf128, hashing, prg
from .aes import FixedKeyAES, aes_ctr, aes_ecb
from .bits import pack_bits, transpose, unpack_bits
from .hashing import ccr, cr, shake, tccr
from .prg import SeedExpander, prg_expand

__all__ = ["aes", "bits", "gf128", "hashing", "prg", "FixedKeyAES", "aes_ecb", "aes_ctr", "cr", "ccr", "tccr",
           "shake", "SeedExpander", "prg_expand", "pack_bits", "unpack_bits", "transpose"]
