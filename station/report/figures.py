"""Report figures (matplotlib, Agg backend, no display): stabilograms, RDL repetitions, stability scores.

Each function returns a ``matplotlib.figure.Figure`` built without pyplot (no global state, safe in
threads); :func:`png_bytes` renders one for the PDF. Left is drawn in blue, right in orange, in every
figure, so a reader learns the colours once.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np

SIDE_COLOURS = {"left": "#2166ac", "right": "#d6604d"}
#: lighter shades for the individual trials of a side (trial 1, 2, 3, ...)
TRIAL_SHADES = {
    "left": ("#2166ac", "#4393c3", "#92c5de", "#053061"),
    "right": ("#d6604d", "#b2182b", "#f4a582", "#67001f"),
}
FONT_SIZE = 8.5


@dataclass(frozen=True)
class StabilogramTrace:
    """One trial's centred COP over its analysed window and its 95 % prediction ellipse."""

    label: str
    ml_mm: np.ndarray
    ap_mm: np.ndarray
    major_mm: float
    minor_mm: float
    angle_deg: float


def _figure(width_in: float, height_in: float):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), dpi=100)
    fig.set_layout_engine("constrained")
    return fig


def png_bytes(fig, *, dpi: int = 160) -> bytes:
    """The figure as PNG bytes (Agg canvas; no display needed)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def _style(ax) -> None:
    ax.tick_params(labelsize=FONT_SIZE - 1)
    for spine in ("top", "right"):
        ax.spines[spine].set_visible(False)
    ax.grid(True, color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)


def ellipse_xy(major_mm: float, minor_mm: float, angle_deg: float, *, n: int = 180) -> tuple[np.ndarray, np.ndarray]:
    """Points of an ellipse centred on 0 with semi-axes ``major``/``minor`` at ``angle_deg`` from +ML."""
    u = np.linspace(0.0, 2.0 * np.pi, n)
    c, s = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))
    x, y = major_mm * np.cos(u), minor_mm * np.sin(u)
    return c * x - s * y, s * x + c * y


def stabilogram_figure(panels: dict, *, rows: list[str], width_in: float = 7.0):
    """Statokinesigrams per side (columns left, right) and block (``rows``), all on the same scale.

    Parameters
    ----------
    panels : dict
        ``{(row, side): [StabilogramTrace, ...]}``; a missing key leaves its panel empty.
    rows : list of str
        Row titles in order (e.g. ``["Baseline", "After the primer"]``).
    """
    height = 3.3 * len(rows) + 0.3
    fig = _figure(width_in, height)
    axes = fig.subplots(len(rows), 2, squeeze=False, sharex=True, sharey=True)
    extent = 10.0
    for traces in panels.values():
        for tr in traces:
            for v in (tr.ml_mm, tr.ap_mm):
                if np.isfinite(v).any():
                    extent = max(extent, float(np.nanmax(np.abs(v))))
            extent = max(extent, tr.major_mm)
    extent = 10.0 * math.ceil(extent * 1.08 / 10.0)
    for i, row in enumerate(rows):
        for j, side in enumerate(("left", "right")):
            ax = axes[i][j]
            _style(ax)
            traces = panels.get((row, side), [])
            shades = TRIAL_SHADES[side]
            for k, tr in enumerate(traces):
                colour = shades[k % len(shades)]
                ax.plot(tr.ml_mm, tr.ap_mm, color=colour, linewidth=0.5, alpha=0.55)
                ex, ey = ellipse_xy(tr.major_mm, tr.minor_mm, tr.angle_deg)
                ax.plot(ex, ey, color=colour, linewidth=1.6, label=tr.label)
            if traces:
                areas = [math.pi * t.major_mm * t.minor_mm for t in traces]
                ax.legend(loc="upper right", fontsize=FONT_SIZE - 1.5, frameon=False, handlelength=1.2)
                ax.text(0.02, 0.02, f"mean 95 % ellipse {np.mean(areas):.0f} mm²", transform=ax.transAxes,
                        fontsize=FONT_SIZE - 1, color="#333333")
            else:
                ax.text(0.5, 0.5, "no valid trial", transform=ax.transAxes, ha="center", va="center",
                        fontsize=FONT_SIZE, color="#777777")
            ax.set_xlim(-extent, extent)
            ax.set_ylim(-extent, extent)
            ax.set_aspect("equal")
            ax.axhline(0, color="#999999", linewidth=0.5)
            ax.axvline(0, color="#999999", linewidth=0.5)
            ax.set_title(f"{row}: {side.upper()} leg", fontsize=FONT_SIZE + 1, color=SIDE_COLOURS[side], loc="left")
            if i == len(rows) - 1:
                ax.set_xlabel("ML (mm)  ← left · right →", fontsize=FONT_SIZE)
            if j == 0:
                ax.set_ylabel("AP (mm)  ← back · forward →", fontsize=FONT_SIZE)
    return fig


def rdl_figure(reps: dict, *, width_in: float = 7.0):
    """Per-repetition RDL chart: lateral weight shift (top) and repetition duration (bottom), per side.

    Parameters
    ----------
    reps : dict
        ``{"left": [rep_metrics, ...], "right": [...]}`` with ``lateral_shift_mm`` and ``duration_s``.
    """
    fig = _figure(width_in, 4.6)
    top, bottom = fig.subplots(2, 1, sharex=True)
    n = max([len(v) for v in reps.values()] + [1])
    x = np.arange(1, n + 1)
    width = 0.38
    for ax, key, label in ((top, "lateral_shift_mm", "Lateral weight shift (mm)"),
                           (bottom, "duration_s", "Repetition duration (s)")):
        _style(ax)
        for offset, side in ((-width / 2, "left"), (width / 2, "right")):
            values = np.array([r.get(key, np.nan) for r in reps.get(side, [])], dtype=float)
            if values.size == 0:
                continue
            xs = np.arange(1, values.size + 1)
            mean = np.nanmean(values) if np.isfinite(values).any() else np.nan
            legend = f"{side} leg (mean {mean:.1f})" if np.isfinite(mean) else f"{side} leg"
            if key == "duration_s":  # tempo: a line per side reads better than bars of nearly equal height
                ax.plot(xs, values, marker="o", markersize=4, linewidth=1.2, color=SIDE_COLOURS[side], label=legend)
            else:
                ax.bar(xs + offset, np.nan_to_num(values), width=width, color=SIDE_COLOURS[side], label=legend)
            if np.isfinite(mean):
                ax.axhline(mean, color=SIDE_COLOURS[side], linewidth=1.0, linestyle="--")
        ax.set_ylabel(label, fontsize=FONT_SIZE)
        if key == "duration_s":
            ax.set_ylim(bottom=0)
        else:
            ax.axhline(0, color="#555555", linewidth=0.6)
        ax.legend(fontsize=FONT_SIZE - 1, frameon=False, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=2,
                  borderaxespad=0.2)
    bottom.set_xlabel("Repetition", fontsize=FONT_SIZE)
    bottom.set_xticks(x)
    return fig


def history_figure(history: list[dict], *, max_si_pct: float = 10.0, ci_within_pct: float = 15.0,
                   sway_label: str = "ML velocity (mm/s)", width_in: float = 7.0):
    """A patient's visits: headline SI with its interval (criterion band shaded) above, each side's
    sway with its interval below. ``history``: :func:`station.report.history.patient_history`."""
    fig = _figure(width_in, 4.6)
    top, bottom = fig.subplots(2, 1, sharex=True)
    x = np.arange(1, len(history) + 1)
    si = [h for h in history if h["measure"] == "SI"]
    xs = [x[i] for i, h in enumerate(history) if h["measure"] == "SI"]
    top.axhspan(-ci_within_pct, ci_within_pct, color="#e8f3ea", zorder=0, label=f"±{ci_within_pct:g} % (interval)")
    top.axhspan(-max_si_pct, max_si_pct, color="#c7e5cd", zorder=0, label=f"±{max_si_pct:g} % (SI)")
    top.axhline(0, color="#888888", linewidth=0.8)
    if si:
        est = np.array([h["estimate"] for h in si], float)
        low = np.array([h["ci_low"] for h in si], float)
        high = np.array([h["ci_high"] for h in si], float)
        ok = np.isfinite(low) & np.isfinite(high)
        yerr = np.vstack([np.where(ok, est - low, 0.0), np.where(ok, high - est, 0.0)])
        top.errorbar(xs, est, yerr=yerr, fmt="o-", color="#333333", capsize=3, linewidth=1.2, markersize=4)
    top.set_ylabel("asymmetry SI (%)\n+ = right sways more", fontsize=FONT_SIZE)
    top.legend(fontsize=FONT_SIZE - 1.5, loc="upper right", frameon=False)
    _style(top)
    for offset, side in ((-0.06, "left"), (0.06, "right")):
        vals = np.array([h["sides"][side] for h in history], float).reshape(-1, 3)
        ok = np.isfinite(vals[:, 1]) & np.isfinite(vals[:, 2])
        yerr = np.vstack([np.where(ok, vals[:, 0] - vals[:, 1], 0.0), np.where(ok, vals[:, 2] - vals[:, 0], 0.0)])
        bottom.errorbar(x + offset, vals[:, 0], yerr=yerr, fmt="o-", color=SIDE_COLOURS[side], capsize=3,
                        linewidth=1.2, markersize=4, label=f"{side} leg")
    bottom.set_ylabel(sway_label, fontsize=FONT_SIZE)
    bottom.legend(fontsize=FONT_SIZE - 1.5, loc="upper right", frameon=False)
    bottom.set_xticks(x, [f"{i}\n{h['date']}" for i, h in zip(x, history)], fontsize=FONT_SIZE - 1)
    bottom.set_xlabel("visit", fontsize=FONT_SIZE)
    bottom.set_xlim(0.5, len(history) + 0.5)
    _style(bottom)
    return fig
