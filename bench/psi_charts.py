"""Charts of the PSI benchmark: time and bits/item vs n for rr22, rr22 malicious, KKRT and OpenMined's peer.

Input is the JSON that ``pqmpc bench psi --json FILE`` writes (this script
never measures anything); output is two SVG files beside each other::

    pqmpc bench psi --json docs/benchmarks/psi_rr22.json
    python bench/psi_charts.py docs/benchmarks/psi_rr22.json docs/benchmarks

Needs matplotlib (the ``plot`` extra). The run's date, machine and load
average go into each chart's caption, since a shared machine's absolute
times mean little without them; compare the lines, which come from one run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

SERIES = (  # (row protocol, label, colour)
    ("rr22", "rr22", "tab:blue"),
    ("rr22_malicious", "rr22 malicious", "tab:purple"),
    ("kkrt", "KKRT", "tab:orange"),
)
PEER = "openmined_ecdh_psi_one_process"
STYLE = {"threads": "-", "processes": "--"}


def load_rows(path: str) -> tuple[dict, list[dict]]:
    with open(path, encoding="utf-8") as fh:
        doc = json.load(fh)
    return doc, doc["suites"]["psi"]["results"]


def caption(doc: dict, rows: list[dict]) -> str:
    env = doc.get("environment", {})
    cpu = env.get("cpu", {})
    loads = [r["loadavg_1min"] for r in rows if "loadavg_1min" in r]
    load = f", 1-min load {min(loads):.1f}–{max(loads):.1f}" if loads else ""
    return (f"{doc.get('started', '?')[:16].replace('T', ' ')} UTC, {cpu.get('cores', '?')} cores "
            f"({cpu.get('processor') or cpu.get('machine', '?')}), shared{load}; pqmpc {env.get('git_commit', '')[:8]}")


def series(rows: list[dict], protocol: str, mode: str, key: str) -> list[tuple[int, float]]:
    pts = [(r["n"], r[key]) for r in rows if r.get("protocol") == protocol and r.get("mode") == mode and key in r]
    return sorted(pts)


def peer_series(rows: list[dict], key: str) -> list[tuple[int, float]]:
    return sorted((r["n"], r[key]) for r in rows if r.get("name") == PEER and key in r)


def _axes(plt, title: str, ylabel: str, note: str):
    fig, ax = plt.subplots(figsize=(7.2, 4.6))
    ax.set_xscale("log", base=2)
    ax.set_xlabel("items per side (n)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    fig.text(0.01, 0.01, note, fontsize=7, color="0.35")
    return fig, ax


def plot(doc: dict, rows: list[dict], folder: str) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.hashsalt"] = "pqmpc-psi"   # stable ids: the SVG changes only with the data
    import matplotlib.pyplot as plt

    note = caption(doc, rows)
    out = []
    fig, ax = _axes(plt, "PSI time vs n (median of interleaved runs)", "seconds", note)
    ax.set_yscale("log")
    for proto, label, colour in SERIES:
        for mode, ls in STYLE.items():
            pts = series(rows, proto, mode, "seconds_median")
            if pts:
                ax.plot(*zip(*pts), ls, marker="o", color=colour, label=f"{label} ({mode})")
    pts = peer_series(rows, "seconds_median")
    if pts:
        ax.plot(*zip(*pts), ":", marker="s", color="tab:green", label="OpenMined ECDH-PSI (one process)")
    ref = dict(series(rows, "rr22", "threads", "seconds_median"))
    if 1 << 20 in ref and len(ref) > 1:   # what linear scaling from rr22's 2^20 point would give
        xs = sorted(ref)
        ax.plot(xs, [ref[1 << 20] * x / (1 << 20) for x in xs], color="0.6", lw=0.8, ls=(0, (1, 3)),
                label="linear from rr22 (threads) at 2^20")
    ax.legend(fontsize=8)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    out.append(_save(fig, plt, folder, "psi_rr22_time.svg"))

    fig, ax = _axes(plt, "PSI communication vs n (both directions)", "bits per item", note)
    for proto, label, colour in SERIES:
        pts = series(rows, proto, "threads", "bits_per_item")
        if pts:
            ax.plot(*zip(*pts), "-", marker="o", color=colour, label=label)
    pts = peer_series(rows, "bits_per_item")
    if pts:
        ax.plot(*zip(*pts), ":", marker="s", color="tab:green", label="OpenMined ECDH-PSI (RAW)")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    out.append(_save(fig, plt, folder, "psi_rr22_bits.svg"))
    return out


def _save(fig, plt, folder: str, name: str) -> str:
    path = os.path.join(folder, name)
    tmp = path + ".tmp"
    fig.savefig(tmp, format="svg", metadata={"Date": None})
    plt.close(fig)
    os.replace(tmp, path)
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("json", help="output of `pqmpc bench psi --json FILE`")
    ap.add_argument("folder", help="where the SVG files go")
    args = ap.parse_args(argv)
    doc, rows = load_rows(args.json)
    for p in plot(doc, rows, args.folder):
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
