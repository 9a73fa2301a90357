"""What every benchmark shares: timing, one row per comparison, and the table they are printed in.

A row compares a *baseline* with a *variant* measured in the same process on the same inputs; its ratio
is baseline time / variant time (> 1: the variant is faster), with a note on whether the results agree.
Rows without a baseline (throughput of one thing) give the rate only, next to the hardware's name.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass
class Row:
    group: str
    name: str
    baseline: str
    baseline_seconds: float | None
    variant: str
    variant_seconds: float
    units: int                      # images, examples or steps the times are for (0: not run)
    agreement: str = ""
    peak_mb: float | None = None

    @property
    def ratio(self) -> float | None:
        return None if self.baseline_seconds is None else self.baseline_seconds / self.variant_seconds


def timed(run: Callable[[], object], repeats: int = 1, warmup: int = 0) -> tuple[object, float]:
    """The last result and the best wall time over ``repeats`` runs (after ``warmup`` untimed runs)."""
    for _ in range(warmup):
        run()
    best, result = float("inf"), None
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        started = time.perf_counter()
        result = run()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - started)
    return result, best


def format_table(rows: list[Row]) -> str:
    """One table: group, comparison, baseline and variant per unit, ratio, agreement, peak memory."""
    def per_unit(seconds: float | None, units: int) -> str:
        return "" if seconds is None or units == 0 else f"{1000 * seconds / units:.3g} ms"

    header = (f"{'group':11s} {'comparison':44s} {'baseline':>24s} {'variant':>24s} {'ratio':>7s} "
              f"{'peak MB':>8s}  agreement")
    lines = [header, "-" * len(header)]
    for row in rows:
        baseline = f"{row.baseline[:14]} {per_unit(row.baseline_seconds, row.units)}" if row.baseline else ""
        variant = f"{row.variant[:14]} {per_unit(row.variant_seconds, row.units)}"
        ratio = "" if row.ratio is None else f"{row.ratio:.2f}"
        peak = "" if row.peak_mb is None else f"{row.peak_mb:.0f}"
        lines.append(f"{row.group[:11]:11s} {row.name[:44]:44s} {baseline:>24s} {variant:>24s} {ratio:>7s} "
                     f"{peak:>8s}  {row.agreement}")
    return "\n".join(lines)
