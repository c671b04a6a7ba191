"""Turn a benchmark JSON document into a Markdown page with tables and plots.

Suites report lists of dicts with at least ``name`` and usually ``n`` and
``seconds_median``; anything numeric beside them (throughputs, ratios,
bytes per item) becomes a column. Plots need matplotlib (extra ``plot``);
without it the page is written with tables only and says so.
"""

from __future__ import annotations

import math
import os
from collections import defaultdict

from ..util.atomic import atomic_write_text

_SKIP = {"name", "n", "repeat"}
_PREFERRED = ["seconds_median", "seconds_min", "seconds_max"]


def _fmt(v) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if v == 0 or math.isnan(v) or math.isinf(v):
            return str(v)
        a = abs(v)
        if a >= 1e6:
            return f"{v / 1e6:,.2f} M"
        if a >= 100:
            return f"{v:,.0f}"
        if a >= 1:
            return f"{v:.3g}"
        return f"{v:.3g}"
    return str(v)


def _columns(results: list[dict]) -> list[str]:
    keys = []
    for r in results:
        for k, v in r.items():
            if k not in _SKIP and k not in keys and isinstance(v, (int, float, str, bool)):
                keys.append(k)
    return [k for k in _PREFERRED if k in keys] + [k for k in keys if k not in _PREFERRED]


def _table(results: list[dict]) -> list[str]:
    cols = _columns(results)
    lines = ["| name | n | " + " | ".join(cols) + " |", "|" + "---|" * (len(cols) + 2)]
    for r in results:
        cells = [str(r.get("name", "")), _fmt(r.get("n", ""))] + [_fmt(r.get(c, "")) for c in cols]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _throughput_series(results: list[dict]) -> dict[str, list[tuple[int, float]]]:
    series = defaultdict(list)
    for r in results:
        n, t = r.get("n"), r.get("seconds_median")
        if isinstance(n, (int, float)) and isinstance(t, (int, float)) and n > 0 and t > 0:
            series[r.get("name", "?")].append((n, n / t))
    return {k: sorted(v) for k, v in series.items() if len(v) >= 2}


def _bytes_series(results: list[dict]) -> list[tuple[str, float]]:
    out = []
    for r in results:
        for k, v in r.items():
            if k.startswith("bytes_per_") and isinstance(v, (int, float)):
                out.append((f"{r.get('name')} (n={r.get('n')}) {k[len('bytes_per_'):]}", float(v)))
    return out


def _line_plot(plt, suite: str, series: dict, folder: str, what: str, ylabel: str, y) -> str:
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, pts in series.items():
        ax.plot([n for n, _ in pts], [y(n, r) for n, r in pts], marker="o", label=name)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("n (items per run)")
    ax.set_ylabel(ylabel)
    ax.set_title(f"{suite}: {what} vs n")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fname = f"{suite}_{what}.png"
    fig.tight_layout()
    fig.savefig(os.path.join(folder, fname), dpi=110)
    plt.close(fig)
    return f"![{suite} {what}]({fname})"


def _plots(suite: str, results: list[dict], folder: str) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines = []
    series = _throughput_series(results)
    if series:
        # Throughput and, from the same runs, seconds: what a user waits for at a given size.
        lines.append(_line_plot(plt, suite, series, folder, "throughput", "items per second (median)", lambda n, r: r))
        lines.append(_line_plot(plt, suite, series, folder, "time", "seconds (median)", lambda n, r: n / r))
    bars = _bytes_series(results)
    if bars:
        fig, ax = plt.subplots(figsize=(7, 0.35 * len(bars) + 1.2))
        ax.barh([b[0] for b in bars], [b[1] for b in bars])
        ax.set_xlabel("bytes on the wire per item")
        ax.set_title(f"{suite}: communication")
        ax.tick_params(axis="y", labelsize=7)
        fname = f"{suite}_bytes.png"
        fig.tight_layout()
        fig.savefig(os.path.join(folder, fname), dpi=110)
        plt.close(fig)
        lines.append(f"![{suite} bytes]({fname})")
    return lines


def write_report(doc: dict, folder: str) -> str:
    """Write ``folder/README.md`` (+ PNG plots); return the page's path."""
    os.makedirs(folder, exist_ok=True)
    try:
        import matplotlib  # noqa: F401

        have_plots = True
    except ImportError:
        have_plots = False
    env = doc.get("environment", {})
    cpu = env.get("cpu", {})
    flags = cpu.get("flags", {})
    lines = [
        "# pqmpc benchmark report",
        "",
        f"Run started {doc.get('started')} ({'quick' if doc.get('quick') else 'full'} mode), "
        f"pqmpc {env.get('pqmpc')} at commit `{(env.get('git_commit') or 'unknown')[:12]}`.",
        "",
        f"Machine: {cpu.get('model', cpu.get('machine'))}, {cpu.get('cores')} cores; CPU features: "
        + ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in flags.items()) + ".",
        f"Software: Python {env.get('python')}, numpy {env.get('numpy')}, numba {env.get('numba')}, "
        f"cryptography {env.get('cryptography')} ({env.get('openssl')}).",
        "",
        "Times are medians over repetitions (min and max beside them). Every suite measures its own "
        "baseline in the same run (raw OpenSSL AES-ECB, or the classical X25519 OT); compare ratios, "
        "not absolute times, across machines.",
        "",
    ]
    if not have_plots:
        lines += ["_matplotlib is not installed (`pip install 'pqmpc[plot]'`): tables only._", ""]
    for suite, body in doc.get("suites", {}).items():
        results = body.get("results", [])
        lines += [f"## {suite}", "", f"Suite wall time {body.get('seconds', 0):.1f} s.", ""]
        lines += _table(results) + [""]
        if have_plots:
            lines += _plots(suite, results, folder) + [""]
    path = os.path.join(folder, "README.md")
    atomic_write_text(path, "\n".join(lines))
    return path
