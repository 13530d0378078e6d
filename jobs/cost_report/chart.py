"""The spend chart (PNG), drawn with matplotlib's object API on the Agg canvas.

matplotlib is imported only here (and by the ops report's charts, through
`import_plotting`), never at module import: the jobs extra brings it, and a job
that draws nothing should not pay for it.
"""

from __future__ import annotations

import io
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.lines import Line2D
    from matplotlib.typing import LineStyleType

MATPLOTLIB_CACHE_DIR = "lafactoria-matplotlib"
_SPEND, _BEFORE, _ANOMALY = "#4a7bd0", "#b0b7c3", "#c0392b"
_WINDOW, _MEAN, _BUDGET = "#f5b041", "#e67e22", "#7d3c98"


def give_matplotlib_a_config_dir() -> None:
    """Point matplotlib at a stable config and font-cache folder when the home folder is not writable.

    Containers often run jobs as a user without a writable home: matplotlib would then warn and
    build its font cache (seconds) in a new temporary folder on every run. `MPLCONFIGDIR` is
    matplotlib's own setting, read when it is first imported, so it is set here, just before that
    import, and only if the operator has not set it.
    """
    import os
    import tempfile

    from shared.settings.environment import default_library_variable

    if not os.access(os.path.expanduser("~"), os.W_OK):
        default_library_variable("MPLCONFIGDIR", os.path.join(tempfile.gettempdir(), MATPLOTLIB_CACHE_DIR))


def import_plotting() -> None:
    """matplotlib's object API with the Agg canvas: no pyplot global state, no GUI backend probing.

    Its INFO chatter ("generated new fontManager" on a fresh machine) is not for operators: the
    library's loggers start at WARNING.
    """
    import logging

    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    give_matplotlib_a_config_dir()
    import matplotlib.backends.backend_agg  # noqa: F401
    import matplotlib.figure  # noqa: F401


def preload_plotting() -> None:
    """The early import in a thread; without the jobs extra, the chart's own import says so (exit 2)."""
    try:
        import_plotting()
    except ImportError:
        pass


def _patch(colour: str, label: str, alpha: float = 1.0):
    from matplotlib.patches import Patch

    return Patch(facecolor=colour, alpha=alpha, label=label)


def _line(colour: str, style: LineStyleType, label: str) -> Line2D:
    from matplotlib.lines import Line2D

    return Line2D([], [], color=colour, linestyle=style, label=label)


def _draw_anomalies(ax, report: dict[str, Any], keys: list[str], anomalous: dict, handles: list) -> list[float]:
    """Each anomaly's trailing window shaded and its mean drawn; returns the means (for the y range)."""
    trailing = report["anomaly_rule"]["trailing_days"]
    means = []
    for n, (key, a) in enumerate(sorted(anomalous.items())):
        i = keys.index(key)
        left, mean = max(-0.5, i - trailing - 0.5), float(a["trailing_mean_usd"])
        ax.axvspan(left, i - 0.5, color=_WINDOW, alpha=0.18, linewidth=0, zorder=0)
        ax.hlines(mean, left, i - 0.5, colors=_MEAN, linestyles="--", linewidth=1.5, zorder=3)
        if n == 0:
            handles += [_patch(_ANOMALY, f"anomaly (> {report['anomaly_rule']['factor']}x trailing mean)"),
                        _patch(_WINDOW, f"trailing {trailing}-day window", alpha=0.4),
                        _line(_MEAN, "--", "trailing mean")]
        means.append(mean)
    return means


def _draw_budget(ax, daily_budget: Decimal, handles: list) -> float:
    budget = float(daily_budget)
    ax.axhline(budget, color=_BUDGET, linestyle=":", linewidth=1.5, zorder=3)
    ax.annotate(f"daily budget ${budget:,.2f}", xy=(0, budget), xycoords=("axes fraction", "data"),
                xytext=(4, 3), textcoords="offset points", ha="left", va="bottom", color=_BUDGET,
                fontsize=8, zorder=4, bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none",
                                            "alpha": 0.85})
    handles.append(_line(_BUDGET, ":", "daily budget"))
    return budget


def _axes(ax, report: dict[str, Any], keys: list[str], top: float) -> None:
    """The y range ($0-$1 with a note when nothing was spent), money ticks, day labels, title and grid."""
    from matplotlib.ticker import StrMethodFormatter

    if top <= 0:
        ax.set_ylim(0, 1)
        ax.text(0.5, 0.5, "no spend in this period", transform=ax.transAxes, ha="center", va="center",
                color="#566573")
    else:
        ax.set_ylim(0, top * 1.15)
    ax.yaxis.set_major_formatter(StrMethodFormatter("${x:,.2f}"))
    step = max(1, -(-len(keys) // 31))
    x = list(range(len(keys)))
    ax.set_xticks(x[::step], [k[5:] if len(keys) <= 62 else k for k in keys][::step],
                  rotation=60, fontsize=7)
    ax.set_xlim(-0.6, len(keys) - 0.4)
    ax.set_ylabel("USD")
    ax.set_title(f"La Factoria spend, {report['chart']['title']}")
    ax.grid(axis="y", color="#e5e8e8", linewidth=0.8, zorder=1)
    ax.set_axisbelow(True)


def figure(report: dict[str, Any], daily_budget: Decimal | None):
    """The spend chart: one bar per day, anomalies in red with the trailing window they were
    measured against shaded and its mean drawn, the budget line labelled, the legend below the
    plot (never over the bars), and a $0-$1 axis with a note when nothing was spent."""
    import_plotting()
    from matplotlib.figure import Figure

    rows = report["chart"]["days"]
    keys = [r["key"] for r in rows]
    spend = [float(r["spend_usd"]) for r in rows]
    first = report["chart"]["from"]
    anomalous = {a["day"]: a for a in report["anomalies"] if a["day"] in keys}
    colours = [_BEFORE if k < first else _ANOMALY if k in anomalous else _SPEND for k in keys]
    fig = Figure(figsize=(10, 4.8), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    ax.bar(list(range(len(keys))), spend, color=colours, width=0.8, zorder=2)  # positions, not date strings
    handles = [_patch(_SPEND, "spend per day")]
    if any(k < first for k in keys):
        handles.append(_patch(_BEFORE, "before the period (trailing window)"))
    tops = [max(spend, default=0.0), *_draw_anomalies(ax, report, keys, anomalous, handles)]
    if daily_budget is not None:
        tops.append(_draw_budget(ax, daily_budget, handles))
    _axes(ax, report, keys, max(tops))
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 4), fontsize=8,
               frameon=False)
    return fig


def png(report: dict[str, Any], daily_budget: Decimal | None) -> bytes:
    """The chart as PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = figure(report, daily_budget)
    FigureCanvasAgg(fig)
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()
