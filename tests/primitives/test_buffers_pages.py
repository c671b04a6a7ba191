"""Result arrays a call allocates ask for 4 KiB pages (see pqmpc.primitives.buffers.small_pages)."""

import os
import sys

import numpy as np
import pytest

from pqmpc.primitives.buffers import ScratchPool, empty_small_pages, out_or_empty, small_pages


def _vm_flags(addr: int) -> list[str] | None:
    """The VmFlags of the mapping holding ``addr`` in /proc/self/smaps."""
    inside = False
    with open("/proc/self/smaps") as f:
        for line in f:
            head = line.split()[0]
            if "-" in head and ":" not in head:
                lo, hi = (int(x, 16) for x in head.split("-"))
                inside = lo <= addr < hi
            elif inside and line.startswith("VmFlags:"):
                return line.split()[1:]
    return None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="madvise flags are read from /proc")
@pytest.mark.parametrize("make", [lambda: empty_small_pages((1 << 19, 16)),
                                  lambda: out_or_empty(None, (1 << 19, 16)),
                                  lambda: ScratchPool().get("big", (1 << 19, 16))])
def test_large_results_are_not_huge_pages(make):
    a = make()
    assert a.shape == (1 << 19, 16) and a.dtype == np.uint8 and a.flags.c_contiguous and a.flags.writeable
    mid = a.ctypes.data + a.nbytes // 2
    flags = _vm_flags(mid)
    assert flags is not None and "nh" in flags and "hg" not in flags
    a.fill(7)  # still ordinary memory
    assert int(a[-1, -1]) == 7


def test_small_and_caller_arrays_untouched():
    small = np.empty(100, np.uint8)
    assert small_pages(small) is small
    out = np.zeros((8, 16), np.uint8)
    assert out_or_empty(out, (8, 16)) is out
    assert empty_small_pages(0).shape == (0,)
    assert empty_small_pages((3, 5), np.uint64).dtype == np.uint64


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux madvise")
def test_fresh_results_are_mapped_before_the_first_touch():
    import resource

    import pqmpc.primitives.buffers as buffers

    if not buffers._POPULATE:
        pytest.skip("no MADV_POPULATE_WRITE on this platform")
    a = empty_small_pages((1 << 20, 16))  # 16 MiB
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    a.fill(1)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0
    release = tuple(int(x) for x in os.uname().release.split("-")[0].split(".")[:2])
    if release < (5, 14):
        pytest.skip("kernel before 5.14: pages fault in one by one")
    assert faults < 64  # 4,096 pages mapped by one system call, not one trap each


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux mincore")
def test_mapped_memory_is_not_populated_again():
    """Reused, already mapped memory (the allocator handing a freed block back) is recognised,
    so it is not walked page by page again."""
    import pqmpc.primitives.buffers as buffers

    a = np.empty((1 << 20, 16), np.uint8)
    start = -(-a.ctypes.data // buffers._PAGE) * buffers._PAGE
    end = (a.ctypes.data + a.nbytes) // buffers._PAGE * buffers._PAGE
    a.fill(3)
    assert buffers._mapped(start, end)
    b = buffers.empty_small_pages((1 << 20, 16))
    bs = -(-b.ctypes.data // buffers._PAGE) * buffers._PAGE
    be = (b.ctypes.data + b.nbytes) // buffers._PAGE * buffers._PAGE
    release = tuple(int(x) for x in os.uname().release.split("-")[0].split(".")[:2])
    if buffers._POPULATE and release >= (5, 14):
        assert buffers._mapped(bs, be)  # populated up front
