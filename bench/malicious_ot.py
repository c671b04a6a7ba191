"""Random-OT rate of IKNP, KOS, SoftSpoken and Ferret (both modes) over memory and shaped links (issue 15).

    PYTHONPATH=. python bench/malicious_ot.py [--links memory,LAN1G,WAN100M] [--n 20] [--reps 5] [--only NAMES] [--no-psi]
    PYTHONPATH=. python bench/malicious_ot.py --goals [--reps 21]    # issue 15's three goal ratios, ~1 min

A thin front to :mod:`pqmpc.bench.suites.ot_ext_links` (``pqmpc bench ot_ext``
runs the same rows): every protocol's session shares one channel pair per link
and the protocols take turns within each repetition, so every ratio (to IKNP,
malicious over semi-honest, κ = 256 over κ = 128) is same-run and interleaved.
Prints one JSON object per line.
"""

from __future__ import annotations

import sys

from pqmpc.bench.suites.ot_ext_links import main

if __name__ == "__main__":
    sys.exit(main())
