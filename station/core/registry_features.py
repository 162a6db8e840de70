"""Declarations of the extended posturography features (the Quijoux et al. 2021 feature set).

Each family computed by :mod:`station.core.features` (and the two-plate measures of
:mod:`station.core.twoplate`) declares its metrics here with :func:`station.core.registry.register`.
Definitions: docs/METRICS.md §11.
"""

from __future__ import annotations

from station.core.registry import MetricSpec, register

_P = "METRICS.md#111-positional-features"
_V = "METRICS.md#112-velocity-features"
_SD = "METRICS.md#113-sway-density"
_F = "METRICS.md#114-spectral-features"
_D = "METRICS.md#115-log-log-diffusion"
_T = "METRICS.md#116-two-plates-one-under-each-foot"

_AXES = (("ml", "ML"), ("ap", "AP"))

_specs = [
    MetricSpec("planar_range_mm", "Planar range", "mm", 1, "higher", _P, "Largest distance between two COP positions."),
    MetricSpec("range_ratio_ml_ap", "ML/AP range ratio", "", 2, "none", _P, "ML range divided by AP range."),
    MetricSpec("sway_direction_coefficient", "Sway-direction coefficient", "", 2, "none", _P,
               "Correlation of ML and AP COP (mean product over the two RMS values)."),
    MetricSpec("fractal_dimension", "Fractal dimension", "", 3, "higher", _P,
               "Fractal dimension of the COP path, confidence-ellipse method."),
    MetricSpec("sway_density_mean_peak_s", "Sway-density peak", "s", 2, "lower", _SD,
               "Mean height of the sway-density peaks (time the COP stays within 3 mm)."),
    MetricSpec("sway_density_peak_distance_mm", "Sway-density peak distance", "mm", 2, "higher", _SD,
               "Mean distance between successive sway-density peaks."),
    MetricSpec("load_asymmetry_pct", "L/R load asymmetry", "%", 1, "none", _T,
               "Right minus left foot share of the vertical force (+ = more on the right)."),
    MetricSpec("right_share_sd_pct", "Right-share variability", "%", 1, "none", _T,
               "Standard deviation over time of the right foot's share of the vertical force."),
]
for ax, AX in _AXES:
    _specs += [
        MetricSpec(f"max_distance_{ax}_mm", f"{AX} max distance", "mm", 1, "higher", _P, f"Largest {AX} distance from the mean COP."),
        MetricSpec(f"phase_plane_parameter_{ax}", f"{AX} phase-plane parameter", "", 1, "higher", _V,
                   f"sqrt(var {AX} position + var {AX} velocity) with positions in mm and velocities in mm/s."),
        MetricSpec(f"velocity_zero_crossings_{ax}", f"{AX} velocity zero crossings", "", 0, "none", _V,
                   f"Times the {AX} COP velocity changes sign."),
        MetricSpec(f"peak_velocity_pos_{ax}_mm_s", f"{AX} positive peak velocity", "mm/s", 1, "higher", _V,
                   f"Mean of the positive {AX} velocity peaks between zero crossings."),
        MetricSpec(f"peak_velocity_neg_{ax}_mm_s", f"{AX} negative peak velocity", "mm/s", 1, "higher", _V,
                   f"Mean magnitude of the negative {AX} velocity peaks between zero crossings."),
        MetricSpec(f"peak_velocity_all_{ax}_mm_s", f"{AX} peak velocity", "mm/s", 1, "higher", _V,
                   f"Mean magnitude of all {AX} velocity peaks between zero crossings."),
        MetricSpec(f"frequency_mode_{ax}_hz", f"{AX} frequency mode", "Hz", 2, "none", _F, f"Frequency of the largest {AX} PSD bin (0.15-5 Hz)."),
        MetricSpec(f"centroid_frequency_{ax}_hz", f"{AX} centroid frequency", "Hz", 2, "none", _F,
                   f"sqrt(m2 / m0) of the {AX} spectrum (0.15-5 Hz)."),
        MetricSpec(f"frequency_dispersion_{ax}", f"{AX} frequency dispersion", "", 2, "none", _F,
                   f"sqrt(1 - m1² / (m0 m2)) of the {AX} spectrum (0.15-5 Hz)."),
        MetricSpec(f"energy_below_05hz_{ax}_mm2", f"{AX} energy < 0.5 Hz", "mm²", 2, "higher", _F, f"{AX} power from 0.15 to 0.5 Hz."),
        MetricSpec(f"energy_05_2hz_{ax}_mm2", f"{AX} energy 0.5-2 Hz", "mm²", 2, "higher", _F, f"{AX} power above 0.5 up to 2 Hz."),
        MetricSpec(f"energy_above_2hz_{ax}_mm2", f"{AX} energy > 2 Hz", "mm²", 3, "higher", _F, f"{AX} power above 2 up to 5 Hz."),
        MetricSpec(f"frequency_quotient_{ax}", f"{AX} frequency quotient", "", 3, "none", _F,
                   f"{AX} power above 2 Hz over the power up to 2 Hz (0.15-5 Hz)."),
        MetricSpec(f"diffusion_scaling_short_{ax}", f"{AX} short-term scaling exponent", "", 2, "none", _D,
                   f"Half the slope of the short-term log-log {AX} diffusion fit (Hurst-like exponent)."),
        MetricSpec(f"diffusion_scaling_long_{ax}", f"{AX} long-term scaling exponent", "", 2, "none", _D,
                   f"Half the slope of the long-term log-log {AX} diffusion fit."),
        MetricSpec(f"critical_time_{ax}_s", f"{AX} critical time", "s", 2, "none", _D, f"Lag where the {AX} log-log fits cross."),
        MetricSpec(f"critical_msd_{ax}_mm2", f"{AX} critical displacement", "mm²", 1, "none", _D,
                   f"{AX} mean square displacement at the {AX} critical time."),
    ]

register(*_specs)
