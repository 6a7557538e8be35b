"""A PNG of a run's agreement statements: one diverging stacked bar per statement.

Disagreement grows to the left of zero, agreement to the right, and the neutral answer is split across the
middle, so a glance shows which statements lean which way. Rendered with matplotlib's Agg canvas on a
`Figure` object (no pyplot, no global state), so it is safe in a worker thread and needs no display.
"""

from __future__ import annotations

import io
import textwrap

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from surveys.model import AGREEMENT_LABELS, Instrument, QuestionKind
from surveys.results import Change, RunResult
from surveys.showable import showable_questions

# A colour-blind-safe diverging palette (ColorBrewer RdBu), strongly disagree → strongly agree.
COLOURS = ("#ca0020", "#f4a582", "#d9d9d9", "#92c5de", "#0571b0")
DPI = 120


def render_png(instrument: Instrument, result: RunResult | None, change: Change | None = None) -> bytes | None:
    """The chart as PNG bytes, or None when nothing may be shown (below the minimum, or no statements).
    With `change` (from `results.change`), the title also says how the index moved since the previous run."""
    rows = [q for q in showable_questions(instrument, result) if instrument.question(q.question_id).kind is QuestionKind.AGREEMENT]
    if result is None or not rows:
        return None
    height = 1.4 + 0.62 * len(rows)
    figure = Figure(figsize=(9, height), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    labels = [textwrap.fill(instrument.question(q.question_id).text, 46) for q in rows]
    positions = list(range(len(rows)))[::-1]  # first statement on top
    for y, row in zip(positions, rows, strict=True):
        shares = [100.0 * row.count(v) / row.answered for v in (1, 2, 3, 4, 5)]
        left = -(shares[0] + shares[1] + shares[2] / 2)
        for share, colour in zip(shares, COLOURS, strict=True):
            axes.barh(y, share, left=left, color=colour, edgecolor="white", linewidth=0.6, height=0.7)
            left += share
        if row.favourable is not None:
            axes.text(101, y, f"{row.favourable:.0f}%", va="center", ha="left", fontsize=9, color="#0571b0")
    axes.set_yticks(positions, labels, fontsize=8.5)
    axes.set_xlim(-100, 112)
    axes.set_xticks(range(-100, 101, 25), [f"{abs(t)}%" for t in range(-100, 101, 25)], fontsize=8)
    axes.axvline(0, color="#555555", linewidth=0.8)
    for side in ("top", "right", "left"):
        axes.spines[side].set_visible(False)
    axes.tick_params(axis="y", length=0)
    index = f" · belonging index {result.index:.0f}/100" if result.index is not None else ""
    if index and change is not None and change.index is not None:
        index += f" ({change.index:+.0f} since last time)"
    figure.suptitle(f"{instrument.title} — {result.respondents} responses{index}", x=0.01, ha="left", fontsize=11)
    axes.text(101, len(rows) - 0.45, "agree", va="bottom", ha="left", fontsize=8, color="#555555")
    handles = [axes.bar(0, 0, color=c)[0] for c in COLOURS]
    figure.legend(handles, AGREEMENT_LABELS, loc="lower center", ncol=5, fontsize=7.5, frameon=False)
    figure.tight_layout(rect=(0, 0.06, 1, 0.97))
    out = io.BytesIO()
    figure.savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()
