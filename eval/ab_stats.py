"""Paired comparisons of two versions scored on the same units (dialogues or turns), with bootstrap CIs.

A metric is a ratio of sums over *units*: each unit (a dialogue, a ReDial turn) contributes a
numerator and a denominator, and the metric is ``Σ num / Σ den``. That covers plain means (den 1),
ReDial's per-pair averages (a turn contributes its hits and its number of rec items) and means over a
subset (turns to success: den 0 for dialogues that never succeeded).

:func:`paired_bootstrap` resamples units with replacement — the same resampled units for A and B, so
the pairing is kept — and reports the percentile interval of ``metric(B) − metric(A)``. Resamples where
either metric is undefined (no denominator) are dropped and counted. The generator is seeded, so the
interval is reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

Unit = tuple[float, float]


@dataclass(frozen=True)
class Comparison:
    """One metric compared: values for A and B, B − A and its bootstrap interval."""

    metric: str
    a: float | None
    b: float | None
    diff: float | None
    ci_low: float | None
    ci_high: float | None
    units: int  # units with a denominator in A or B
    resamples: int  # bootstrap resamples where both values were defined
    level: float = 0.95

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _arrays(units: Sequence[Unit]) -> tuple[np.ndarray, np.ndarray]:
    arr = np.asarray(units, dtype=float).reshape(-1, 2)
    if np.any(arr[:, 1] < 0):
        raise ValueError("unit denominators must be >= 0")
    return arr[:, 0], arr[:, 1]


def _ratio(num: np.ndarray, den: np.ndarray) -> float | None:
    d = float(den.sum())
    return float(num.sum()) / d if d > 0 else None


def paired_bootstrap(
    metric: str,
    a: Sequence[Unit],
    b: Sequence[Unit],
    *,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> Comparison:
    """Compare ``b`` with ``a`` on the same units (``a[i]`` and ``b[i]`` must be the same dialogue/turn)."""
    if len(a) != len(b):
        raise ValueError(
            f"{metric}: A has {len(a)} units and B {len(b)}; a paired comparison needs the same units"
        )
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    a_num, a_den = _arrays(a)
    b_num, b_den = _arrays(b)
    va, vb = _ratio(a_num, a_den), _ratio(b_num, b_den)
    diff = vb - va if va is not None and vb is not None else None
    n = len(a)
    used = int(np.sum((a_den > 0) | (b_den > 0))) if n else 0
    low = high = None
    resamples = 0
    if diff is not None and n_boot > 0:
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, n, size=(n_boot, n))
        ad, bd = a_den[idx].sum(axis=1), b_den[idx].sum(axis=1)
        ok = (ad > 0) & (bd > 0)
        diffs = b_num[idx].sum(axis=1)[ok] / bd[ok] - a_num[idx].sum(axis=1)[ok] / ad[ok]
        resamples = int(ok.sum())
        if resamples:
            tail = (1 - level) / 2 * 100
            low, high = (float(x) for x in np.percentile(diffs, [tail, 100 - tail]))
    return Comparison(metric, va, vb, diff, low, high, used, resamples, level)


def bootstrap_interval(
    units: Sequence[Unit], *, n_boot: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float | None, float | None, float | None]:
    """A single version's metric and its percentile bootstrap interval: (value, low, high)."""
    zero = [(0.0, d) for _, d in units]
    c = paired_bootstrap("", zero, units, n_boot=n_boot, seed=seed, level=level)
    return c.b, c.ci_low, c.ci_high


# --------------------------------------------------------------------------------------------------
# tables


def _num(value: float | None, signed: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:+.3f}" if signed else f"{value:.3f}"


def comparison_cells(c: Comparison) -> list[str]:
    ci = "—" if c.ci_low is None else f"[{_num(c.ci_low, True)}, {_num(c.ci_high, True)}]"
    return [c.metric, _num(c.a), _num(c.b), _num(c.diff, True), ci, str(c.units)]


def comparison_header(a_label: str, b_label: str, unit: str) -> list[str]:
    return ["metric", f"A: {a_label}", f"B: {b_label}", "B − A", "95% CI of B − A", unit]


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines)


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Aligned plain text: the first column left, the others right."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    out = []
    for cells in [header, *rows]:
        out.append(
            "  ".join(
                [cells[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))]
            )
        )
    return "\n".join(out)


__all__ = [
    "Comparison",
    "Unit",
    "bootstrap_interval",
    "comparison_cells",
    "comparison_header",
    "markdown_table",
    "paired_bootstrap",
    "text_table",
]
