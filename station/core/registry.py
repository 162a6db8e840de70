"""The one metric registry: every metric's key, label, unit, decimals, direction and definition anchor.

Scoring, the PDF report, the dashboard tables, CSV headers and the definitions page read these
declarations; nothing else writes a metric's label or unit. ``less_stable`` says which direction of the
value means *less stable*: ``"higher"`` (sway: more is worse), ``"lower"`` (e.g. a score where more is
steadier) or ``"none"`` (descriptive: positions, frequencies, counts of samples).

``anchor`` is ``<doc>#<id>``: an ``<a id="...">`` in docs/METRICS.md (or docs/ASSESSMENT.md) where the
metric is defined; a test checks every anchor exists.

Extra feature families register themselves from :mod:`station.core.registry_features` (one module per
family keeps this file readable); the registry is complete once this module is imported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class MetricSpec:
    """Declaration of one metric.

    Attributes
    ----------
    key : str
        snake_case key with the unit in its name (``mean_velocity_ml_mm_s``).
    label : str
        Short label a clinician reads ("ML velocity").
    unit : str
        Display unit ("mm/s"; "" for dimensionless).
    decimals : int
        Decimals shown in tables.
    less_stable : {"higher", "lower", "none"}
        Which direction means less stable.
    anchor : str
        ``"METRICS.md#3-time-domain-measures"`` style reference to the definition.
    definition : str
        One plain-language sentence (the report's definitions page).
    """

    key: str
    label: str
    unit: str
    decimals: int
    less_stable: str
    anchor: str
    definition: str = ""

    def format(self, value, *, sign: bool = False, unit: bool = False) -> str:
        """``value`` with this metric's decimals ("—" when missing or not finite; never "-0")."""
        return format_value(value, self.decimals, sign=sign) + (f" {self.unit}" if unit and self.unit else "")


def format_value(value, decimals: int, *, sign: bool = False) -> str:
    """A number for a table: fixed decimals, "—" when missing or not finite, no negative zero."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "—"
    if not math.isfinite(v):
        return "—"
    text = f"{v:+.{decimals}f}" if sign else f"{v:.{decimals}f}"
    if float(text) == 0.0:  # "-0.0" / "+0.0" -> "0.0"
        text = f"{0.0:.{decimals}f}"
    return text


_T = "METRICS.md#time-domain"
_E = "METRICS.md#ellipse"
_S = "METRICS.md#spectral"
_D = "METRICS.md#diffusion"
_N = "METRICS.md#entropy"
_F = "METRICS.md#corner-forces"
_V = "METRICS.md#events"
_W = "METRICS.md#analysed-window"
_A = "ASSESSMENT.md#scoring"

_SPECS: list[MetricSpec] = [
    # bookkeeping of the analysed window
    MetricSpec("n_used", "Samples used", "", 0, "none", _W, "Samples with a defined COP in the analysed window."),
    MetricSpec("n_input", "Samples in window", "", 0, "none", _W, "Samples in the analysed window before load gating."),
    MetricSpec("fs_hz", "Sample rate", "Hz", 1, "none", _W, "Rate of the uniform grid the metrics use."),
    MetricSpec("duration_s", "Analysed time", "s", 1, "none", _W, "Length of the analysed window."),
    # positions
    MetricSpec("mean_cop_ml_mm", "Mean ML COP", "mm", 1, "none", _T, "Mean side-to-side COP position (+ right)."),
    MetricSpec("mean_cop_ap_mm", "Mean AP COP", "mm", 1, "none", _T, "Mean front-back COP position (+ forward)."),
    # time domain
    MetricSpec("path_length_mm", "Path length", "mm", 0, "higher", _T, "Length of the COP trajectory in the plane."),
    MetricSpec("path_length_ml_mm", "ML path length", "mm", 0, "higher", _T, "Length of the side-to-side COP trajectory."),
    MetricSpec("path_length_ap_mm", "AP path length", "mm", 0, "higher", _T, "Length of the front-back COP trajectory."),
    MetricSpec("mean_velocity_mm_s", "Total velocity", "mm/s", 1, "higher", _T,
               "COP path length in the plane divided by the analysed time (mean_velocity_mm_s)."),
    MetricSpec("mean_velocity_ml_mm_s", "ML velocity", "mm/s", 1, "higher", _T,
               "Side-to-side COP path length divided by the analysed time (mean_velocity_ml_mm_s)."),
    MetricSpec("mean_velocity_ap_mm_s", "AP velocity", "mm/s", 1, "higher", _T,
               "Front-back COP path length divided by the analysed time."),
    MetricSpec("rms_ml_mm", "ML RMS", "mm", 1, "higher", _T, "Root mean square of the centred ML COP."),
    MetricSpec("rms_ap_mm", "AP RMS", "mm", 1, "higher", _T, "Root mean square of the centred AP COP."),
    MetricSpec("range_ml_mm", "ML range", "mm", 1, "higher", _T,
               "Largest minus smallest side-to-side COP position in the analysed window (range_ml_mm)."),
    MetricSpec("range_ap_mm", "AP range", "mm", 1, "higher", _T, "Largest minus smallest AP COP position."),
    MetricSpec("mean_distance_mm", "Mean distance", "mm", 1, "higher", _T, "Mean distance of the COP from its mean."),
    MetricSpec("mean_distance_ml_mm", "ML mean distance", "mm", 1, "higher", _T, "Mean |ML COP − its mean|."),
    MetricSpec("mean_distance_ap_mm", "AP mean distance", "mm", 1, "higher", _T, "Mean |AP COP − its mean|."),
    MetricSpec("rms_distance_mm", "RMS distance", "mm", 1, "higher", _T, "RMS distance of the COP from its mean."),
    MetricSpec("max_distance_mm", "Max distance", "mm", 1, "higher", _T, "Largest distance of the COP from its mean."),
    MetricSpec("sway_area_rate_mm2_s", "Sway area rate", "mm²/s", 1, "higher", _T,
               "Area swept by the COP radius per second (Hufschmidt)."),
    MetricSpec("mean_frequency_hz", "Mean frequency", "Hz", 2, "none", _T,
               "Rotational frequency of the COP around its mean: velocity / (2π · mean distance)."),
    MetricSpec("mean_frequency_ml_hz", "ML mean frequency", "Hz", 2, "none", _T, "ML velocity / (4√2 · ML mean distance)."),
    MetricSpec("mean_frequency_ap_hz", "AP mean frequency", "Hz", 2, "none", _T, "AP velocity / (4√2 · AP mean distance)."),
    # ellipse and direction
    MetricSpec("ellipse95_area_mm2", "95 % ellipse area", "mm²", 0, "higher", _E,
               "Area of the 95 % prediction ellipse of the COP (ellipse95_area_mm2): the region that would hold 95 % "
               "of new samples. Drawn on the stabilograms, one per trial."),
    MetricSpec("ellipse95_area_rate_mm2_s", "Ellipse area rate", "mm²/s", 1, "higher", _E,
               "95 % ellipse area divided by the analysed time."),
    MetricSpec("ellipse95_major_mm", "Ellipse major semi-axis", "mm", 1, "higher", _E, "Major semi-axis of the 95 % ellipse."),
    MetricSpec("ellipse95_minor_mm", "Ellipse minor semi-axis", "mm", 1, "higher", _E, "Minor semi-axis of the 95 % ellipse."),
    MetricSpec("ellipse95_angle_deg", "Ellipse angle", "°", 0, "none", _E, "Angle of the ellipse's major axis from the ML axis."),
    MetricSpec("principal_sway_direction_deg", "Principal sway direction", "°", 0, "none", _E,
               "Direction of the largest COP variance, counter-clockwise from the ML axis (0 = side to side, 90 = front to back)."),
    MetricSpec("sway_anisotropy_ratio", "Anisotropy", "", 2, "none", _E, "Ratio of the ellipse's major to minor axis."),
    # spectral
    MetricSpec("total_power_ml_mm2", "ML total power", "mm²", 1, "higher", _S, "Integral of the ML COP power spectrum."),
    MetricSpec("total_power_ap_mm2", "AP total power", "mm²", 1, "higher", _S, "Integral of the AP COP power spectrum."),
    MetricSpec("mean_power_frequency_hz", "Mean power frequency", "Hz", 3, "none", _S,
               "Power-weighted mean frequency of both axes together."),
    MetricSpec("mean_power_frequency_ml_hz", "ML mean power frequency", "Hz", 3, "none", _S,
               "Power-weighted mean frequency of the ML COP."),
    MetricSpec("mean_power_frequency_ap_hz", "AP mean power frequency", "Hz", 3, "none", _S,
               "Power-weighted mean frequency of the AP COP."),
    MetricSpec("median_frequency_ml_hz", "ML median frequency", "Hz", 2, "none", _S, "Frequency below which half the ML power lies."),
    MetricSpec("median_frequency_ap_hz", "AP median frequency", "Hz", 2, "none", _S, "Frequency below which half the AP power lies."),
    MetricSpec("f95_ml_hz", "ML F95", "Hz", 2, "none", _S, "Frequency below which 95 % of the ML power lies."),
    MetricSpec("f95_ap_hz", "AP F95", "Hz", 2, "none", _S, "Frequency below which 95 % of the AP power lies."),
    # stabilogram diffusion
    MetricSpec("diffusion_short_ml_mm2_s", "Short-term D (ML)", "mm²/s", 2, "higher", _D, "Short-term diffusion coefficient, ML."),
    MetricSpec("diffusion_short_ap_mm2_s", "Short-term D (AP)", "mm²/s", 2, "higher", _D, "Short-term diffusion coefficient, AP."),
    MetricSpec("diffusion_short_mm2_s", "Short-term D", "mm²/s", 2, "higher", _D, "Short-term planar diffusion coefficient."),
    MetricSpec("diffusion_long_ml_mm2_s", "Long-term D (ML)", "mm²/s", 2, "none", _D, "Long-term diffusion coefficient, ML."),
    MetricSpec("diffusion_long_ap_mm2_s", "Long-term D (AP)", "mm²/s", 2, "none", _D, "Long-term diffusion coefficient, AP."),
    MetricSpec("diffusion_long_mm2_s", "Long-term D", "mm²/s", 2, "none", _D, "Long-term planar diffusion coefficient."),
    MetricSpec("critical_time_s", "Critical time", "s", 2, "none", _D, "Time where the short- and long-term fits cross."),
    MetricSpec("critical_msd_mm2", "Critical MSD", "mm²", 1, "none", _D, "Mean square displacement at the critical time."),
    # entropy
    MetricSpec("sample_entropy_ml", "Sample entropy (ML)", "", 3, "none", _N, "Sample entropy of the ML COP (m = 2, r = 0.2 SD)."),
    MetricSpec("sample_entropy_ap", "Sample entropy (AP)", "", 3, "none", _N, "Sample entropy of the AP COP (m = 2, r = 0.2 SD)."),
    MetricSpec("sample_entropy_rate_hz", "Entropy rate", "Hz", 1, "none", _N, "Rate the sample entropy was computed at."),
    # corner forces
    MetricSpec("right_share_pct", "Right share", "%", 1, "none", _F, "Share of the vertical force on the right cells."),
    MetricSpec("mean_total_force_n", "Mean total force", "N", 0, "none", _F, "Mean vertical force in the analysed window."),
    # events in single-leg stance
    MetricSpec("touchdowns", "Touchdowns", "per trial", 0, "higher", _V,
               "Times the free foot touched down (board unloaded for 0.1–3 s, or the COP jumped towards the free foot)."),
    MetricSpec("touchdowns_per_30s", "Touchdowns per 30 s", "/30 s", 1, "higher", _V, "Touchdowns scaled to 30 s of stance."),
    MetricSpec("stance_start_s", "Stance start", "s", 2, "none", _W, "When the stance began (trial time)."),
    MetricSpec("weight_n", "Stance weight", "N", 0, "none", _W, "Load in the first 0.5 s of the stance."),
    # RDL sets (trial level)
    MetricSpec("reps_counted", "Repetitions", "", 0, "none", _V, "Repetitions recognised in the set (at most the target)."),
    MetricSpec("reps_target", "Repetitions asked", "", 0, "none", _V, "Repetitions the protocol asked for."),
    MetricSpec("rep_lateral_shift_mm_mean", "Lateral weight shift", "mm", 1, "higher", _V,
               "Mean over the set's repetitions of the lateral weight shift, signed outwards over the stance leg."),
    MetricSpec("rep_ml_max_dev_mm_mean", "Max ML deviation", "mm", 1, "higher", _V,
               "Mean over the set of the largest ML COP excursion of each repetition."),
    MetricSpec("rep_depth_m_mean", "Hinge depth", "m", 2, "none", _V, "Mean vertical travel of the centre of mass."),
    MetricSpec("rep_duration_s_mean", "Repetition duration", "s", 1, "none", _V, "Mean descent + bottom + ascent time."),
    # assessment scores
    MetricSpec("stability_score", "Balance score", "0–100", 0, "lower", _A,
               "100 × min(1, 1.25 / sway index): 100 = sways no more than 1.25 × a typical healthy single-leg stance "
               "(healthy adults about 80–100), 50 = 2.5 ×; higher = steadier."),
    MetricSpec("sway_index", "Sway index", "×", 2, "higher", _A,
               "Geometric mean of ML velocity / 35 mm/s, ML range / 35 mm and √(ellipse area / 800 mm²): how many times "
               "the sway of a typical healthy single-leg stance (orders of magnitude, not norms). 1.0 = reference."),
]

#: per-repetition measures of an RDL set (their own namespace: ``duration_s`` there is one repetition's)
_REP_SPECS: list[MetricSpec] = [
    MetricSpec("t_start_s", "Start", "s", 2, "none", _V, "Repetition start (trial time)."),
    MetricSpec("t_bottom_s", "Bottom", "s", 2, "none", _V, "Deepest point of the hinge (trial time)."),
    MetricSpec("t_end_s", "End", "s", 2, "none", _V, "Back upright (trial time)."),
    MetricSpec("descent_s", "Descent", "s", 2, "none", _V, "Time going down."),
    MetricSpec("bottom_s", "Bottom hold", "s", 2, "none", _V, "Time held at the bottom."),
    MetricSpec("ascent_s", "Ascent", "s", 2, "none", _V, "Time coming up."),
    MetricSpec("duration_s", "Repetition duration", "s", 1, "none", _V,
               "Descent + bottom hold + ascent of one repetition, from the vertical force (duration_s): the tempo."),
    MetricSpec("interval_s", "Interval", "s", 1, "none", _V, "Start of this repetition to the start of the next (tempo)."),
    MetricSpec("depth_m", "Hinge depth", "m", 2, "none", _V, "Vertical travel of the centre of mass in a repetition."),
    MetricSpec("ap_shift_mm", "AP shift", "mm", 1, "none", _V, "AP COP shift at the bottom of the hinge (+ forward)."),
    MetricSpec("ml_shift_mm", "ML shift", "mm", 1, "none", _V, "ML COP shift over the hinge (+ right)."),
    MetricSpec("lateral_shift_mm", "Lateral weight shift", "mm", 1, "higher", _V,
               "Per repetition: the ML COP shift over the whole hinge (fitted on the repetition's own depth profile), "
               "signed outwards over the stance leg (lateral_shift_mm)."),
    MetricSpec("ml_max_dev_mm", "Max ML deviation", "mm", 1, "higher", _V, "Largest ML COP excursion during a repetition."),
    MetricSpec("force_range_pct", "Force range", "%", 0, "none", _V, "Range of the vertical force in % of body weight."),
    MetricSpec("touchdown", "Touchdown", "", 0, "higher", _V, "1 when the free foot touched down during the repetition."),
    MetricSpec("timing_ok", "Timing from the phase fit", "", 0, "none", _V, "0 when the times come from a fallback."),
]

#: key -> declaration (trial and window metrics)
REGISTRY: dict[str, MetricSpec] = {}
#: key -> declaration (per-repetition measures)
REP_REGISTRY: dict[str, MetricSpec] = {s.key: s for s in _REP_SPECS}


def register(*specs: MetricSpec) -> None:
    """Add declarations (a key may be declared once)."""
    for s in specs:
        if s.key in REGISTRY:
            raise ValueError(f"metric {s.key!r} is declared twice")
        if s.less_stable not in ("higher", "lower", "none"):
            raise ValueError(f"metric {s.key!r}: less_stable must be 'higher', 'lower' or 'none'")
        REGISTRY[s.key] = s


register(*_SPECS)

# extra feature families declare their metrics in their own module, which calls register()
from station.core import registry_features as _features  # noqa: E402,F401


def spec(key: str) -> MetricSpec:
    """The declaration of ``key``; ``KeyError`` names the unknown key."""
    try:
        return REGISTRY[key]
    except KeyError:
        raise KeyError(f"metric {key!r} is not declared in station.core.registry") from None


def rep_spec(key: str) -> MetricSpec:
    """The declaration of a per-repetition measure."""
    try:
        return REP_REGISTRY[key]
    except KeyError:
        raise KeyError(f"repetition measure {key!r} is not declared in station.core.registry") from None


def label(key: str) -> str:
    return spec(key).label


def unit(key: str) -> str:
    return spec(key).unit
