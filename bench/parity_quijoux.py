"""Feature parity with the reference code of Quijoux et al. (2021) on three public trials.

Usage::

    python bench/parity_quijoux.py REFERENCE_ROOT [--trials 1 2 3]

``REFERENCE_ROOT`` is a folder holding the reference repository as ``code_descriptors_postural_control``
(MIT licence; it needs numpy, scipy, statsmodels and scikit-learn — run this script with an interpreter
that has them and the station). The reference is **not** part of this project; only the numbers are.

Both sides get the *same* signal: the reference's own pre-processing (centring, 4th-order 10 Hz
Butterworth filtfilt at 100 Hz) of tests/data/bds trials, converted cm -> mm. So any difference is a
difference of definitions, not of pre-processing. Prints one markdown table row per feature and
trial: metric, reference value, ours, difference (%), and whether the definitions match.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: reference feature -> (our key, factor applied to the reference value to get our unit, note)
#: factor: cm -> mm = 10, cm² -> mm² = 100; None where the definitions differ (documented)
PAIRS = {
    "maximal_distance_ML": ("max_distance_ml_mm", 10, ""),
    "maximal_distance_AP": ("max_distance_ap_mm", 10, ""),
    "maximal_distance_Radius": ("max_distance_mm", 10, ""),
    "mean_distance_ML": ("mean_distance_ml_mm", 10, ""),
    "mean_distance_AP": ("mean_distance_ap_mm", 10, ""),
    "mean_distance_Radius": ("mean_distance_mm", 10, ""),
    "rms_ML": ("rms_ml_mm", 10, ""),
    "rms_AP": ("rms_ap_mm", 10, ""),
    "rms_Radius": ("rms_distance_mm", 10, ""),
    "range_ML": ("range_ml_mm", 10, ""),
    "range_AP": ("range_ap_mm", 10, ""),
    "range_ML_AND_AP": ("planar_range_mm", 10, ""),
    "range_ratio_ML_AND_AP": ("range_ratio_ml_ap", 1, ""),
    "planar_deviation_ML_AND_AP": ("rms_distance_mm", 10, "same quantity as rms_Radius"),
    "coefficient_sway_direction_ML_AND_AP": ("sway_direction_coefficient", 1, ""),
    "confidence_ellipse_area_ML_AND_AP": ("ellipse95_area_mm2", 100, "ours: covariance with 1/(n-1) (Schubert & Kirchner 2014); reference 1/n"),
    "principal_sway_direction_ML_AND_AP": ("principal_sway_direction_deg", 1, "ours: angle from the ML axis, reference from the AP axis (sum = 90°)"),
    "mean_velocity_ML": ("mean_velocity_ml_mm_s", 10, ""),
    "mean_velocity_AP": ("mean_velocity_ap_mm_s", 10, ""),
    "mean_velocity_ML_AND_AP": ("mean_velocity_mm_s", 10, ""),
    "sway_area_per_second_ML_AND_AP": ("sway_area_rate_mm2_s", 100, "ours: divided by n / fs, reference by (n - 1) / fs"),
    "phase_plane_parameter_ML": ("phase_plane_parameter_ml", None, "mixes cm and cm/s: unit-dependent, compared in mm / mm/s below"),
    "phase_plane_parameter_AP": ("phase_plane_parameter_ap", None, "as ML"),
    "fractal_dimension_ML_AND_AP": ("fractal_dimension", None, "log of a length: unit-dependent (compared in mm below)"),
    "zero_crossing_SPD_ML": ("velocity_zero_crossings_ml", 1, ""),
    "zero_crossing_SPD_AP": ("velocity_zero_crossings_ap", 1, ""),
    "peak_velocity_pos_SPD_ML": ("peak_velocity_pos_ml_mm_s", 10, ""),
    "peak_velocity_neg_SPD_ML": ("peak_velocity_neg_ml_mm_s", 10, ""),
    "peak_velocity_all_SPD_ML": ("peak_velocity_all_ml_mm_s", 10, ""),
    "peak_velocity_pos_SPD_AP": ("peak_velocity_pos_ap_mm_s", 10, ""),
    "peak_velocity_neg_SPD_AP": ("peak_velocity_neg_ap_mm_s", 10, ""),
    "peak_velocity_all_SPD_AP": ("peak_velocity_all_ap_mm_s", 10, ""),
    "mean_peak_Sway_Density": ("sway_density_mean_peak_s", 1, ""),
    "mean_distance_peak_Sway_Density": ("sway_density_peak_distance_mm", 10, ""),
    "mean_frequency_ML": ("mean_frequency_ml_hz", 1, "ours: mean velocity / (2 pi mean distance) per axis; reference (Prieto 1996) 1 / (4 sqrt 2) instead of 1 / (2 pi)"),
    "mean_frequency_AP": ("mean_frequency_ap_hz", 1, "ours: 1 / (2 pi) factor as ML"),
    "mean_frequency_ML_AND_AP": ("mean_frequency_hz", 1, ""),
    "frequency_mode_Power_Spectrum_Density_ML": ("frequency_mode_ml_hz", 1, ""),
    "frequency_mode_Power_Spectrum_Density_AP": ("frequency_mode_ap_hz", 1, ""),
    "centroid_frequency_Power_Spectrum_Density_ML": ("centroid_frequency_ml_hz", 1, ""),
    "centroid_frequency_Power_Spectrum_Density_AP": ("centroid_frequency_ap_hz", 1, ""),
    "frequency_dispersion_Power_Spectrum_Density_ML": ("frequency_dispersion_ml", 1, ""),
    "frequency_dispersion_Power_Spectrum_Density_AP": ("frequency_dispersion_ap", 1, ""),
    "energy_content_below_05_Power_Spectrum_Density_ML": ("energy_below_05hz_ml_mm2", "df100", "reference sum of PSD bins times the bin width, in mm²"),
    "energy_content_below_05_Power_Spectrum_Density_AP": ("energy_below_05hz_ap_mm2", "df100", "as ML"),
    "energy_content_05_2_Power_Spectrum_Density_ML": ("energy_05_2hz_ml_mm2", "df100", ""),
    "energy_content_05_2_Power_Spectrum_Density_AP": ("energy_05_2hz_ap_mm2", "df100", ""),
    "energy_content_above_2_Power_Spectrum_Density_ML": ("energy_above_2hz_ml_mm2", "df100", ""),
    "energy_content_above_2_Power_Spectrum_Density_AP": ("energy_above_2hz_ap_mm2", "df100", ""),
    "frequency_quotient_Power_Spectrum_Density_ML": ("frequency_quotient_ml", 1, ""),
    "frequency_quotient_Power_Spectrum_Density_AP": ("frequency_quotient_ap", 1, ""),
    "short_time_scaling_Diffusion_ML": ("diffusion_scaling_short_ml", 1, ""),
    "long_time_scaling_Diffusion_ML": ("diffusion_scaling_long_ml", 1, ""),
    "short_time_scaling_Diffusion_AP": ("diffusion_scaling_short_ap", 1, ""),
    "long_time_scaling_Diffusion_AP": ("diffusion_scaling_long_ap", 1, ""),
    "critical_time_Diffusion_ML": ("critical_time_ml_s", 1, ""),
    "critical_time_Diffusion_AP": ("critical_time_ap_s", 1, ""),
    "critical_displacement_Diffusion_ML": ("critical_msd_ml_mm2", 100, ""),
    "critical_displacement_Diffusion_AP": ("critical_msd_ap_mm2", 100, ""),
}


def main() -> int:
    ap_ = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap_.add_argument("reference_root")
    ap_.add_argument("--trials", nargs="+", type=int, default=[1, 2, 3])
    args = ap_.parse_args()
    sys.path.insert(0, args.reference_root)
    from code_descriptors_postural_control.descriptors import compute_all_features
    from code_descriptors_postural_control.stabilogram.stato import Stabilogram

    from station.core.metrics import suite

    print("| trial | metric (reference) | our key | reference | ours | difference % | definitions |")
    print("|---|---|---|---|---|---|---|")
    worst = 0.0
    for k in args.trials:
        d = np.loadtxt(ROOT / "tests" / "data" / "bds" / f"BDS{k:05d}.txt", skiprows=1)
        data = np.column_stack([d[:, 8], d[:, 7]])  # ML = COPy, AP = COPx (cm)
        st = Stabilogram()
        st.from_array(array=data, original_frequency=100)
        ref = compute_all_features(st, params_dic={"sway_density_radius": 0.3})
        sig_mm = st.signal * 10.0
        fs = float(st.frequency)  # the reference resamples to 25 Hz (SWARII) before filtering
        ours = suite(sig_mm[:, 0], sig_mm[:, 1], fs_hz=fs)
        # the unit-dependent features, also computed by the reference on the mm signal
        st_mm = Stabilogram()
        st_mm.from_array(array=data * 10.0, original_frequency=100)
        ref_mm = compute_all_features(st_mm, params_dic={"sway_density_radius": 3.0})
        n = sig_mm.shape[0]
        df = fs / n
        for name, (key, factor, note) in PAIRS.items():
            r = ref.get(name)
            if r is None:
                continue
            if factor is None:
                r = ref_mm[name]
                factor = 1
            elif factor == "df100":
                r = r * 100 * df
                factor = 1
            r = float(np.asarray(r).ravel()[0]) * factor
            o = float(ours[key])
            diff = 100.0 * (o - r) / r if r != 0 else float("nan")
            match = "differ: " + note if note.startswith("ours") else ("match" + (f" ({note})" if note else ""))
            if match.startswith("match") and np.isfinite(diff):
                worst = max(worst, abs(diff))
            print(f"| BDS{k:05d} | {name} | {key} | {r:.6g} | {o:.6g} | {diff:+.3f} | {match} |")
    print(f"\nlargest difference where the definitions match: {worst:.3f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
