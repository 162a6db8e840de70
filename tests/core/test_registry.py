"""The one metric registry: every metric declared once, every anchor real, no label written twice."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np

import station
from station.core.metrics import compute_metrics
from station.core.registry import REGISTRY, REP_REGISTRY, format_value, spec

ROOT = Path(station.__file__).resolve().parents[1]


def anchors(doc: str) -> set[str]:
    """Explicit ``<a id="...">`` anchors and GitHub's heading slugs of a document."""
    text = (ROOT / "docs" / doc).read_text()
    ids = set(re.findall(r'<a id="([^"]+)"></a>', text))
    for heading in re.findall(r"^#+ (.+)$", text, flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        ids.add(slug)
    return ids


def test_every_anchor_exists_in_the_docs():
    missing = []
    for s in [*REGISTRY.values(), *REP_REGISTRY.values()]:
        doc, _, aid = s.anchor.partition("#")
        if aid not in anchors(doc):
            missing.append(f"{s.key}: {s.anchor}")
    assert not missing, missing


def test_every_computed_metric_is_declared():
    rng = np.random.default_rng(3)
    ml = np.cumsum(rng.normal(size=4000)) * 0.3
    ap = np.cumsum(rng.normal(size=4000)) * 0.3
    forces = np.abs(rng.normal(170.0, 5.0, size=(4000, 4)))
    for preset in ("clinical", "raw"):
        m = compute_metrics(ml, ap, fs_hz=100.0, preset=preset, t_s=np.arange(4000) / 100.0, forces_n=forces)
        undeclared = sorted(k for k in m if k != "preset" and k not in REGISTRY)
        assert not undeclared, undeclared


def test_labels_are_written_once():
    """No string literal in the package repeats a metric label: everything reads the registry."""
    labels = {s.label for s in REGISTRY.values()} | {s.label for s in REP_REGISTRY.values()}
    labels = {lab for lab in labels if len(lab.split()) >= 2}  # one-word labels ("Start") are ordinary words
    found = []
    for path in (ROOT / "station").rglob("*.py"):
        if path.name in ("registry.py", "registry_features.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in labels:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
    assert not found, "metric labels written outside station.core.registry:\n" + "\n".join(found)


def test_format_value_never_prints_nan_or_negative_zero():
    assert format_value(float("nan"), 1) == "—"
    assert format_value(None, 1) == "—"
    assert format_value(-0.04, 1) == "0.0"
    assert format_value(-0.04, 1, sign=True) == "0.0"
    assert format_value(1.25, 1, sign=True) == "+1.2"
    assert spec("mean_velocity_ml_mm_s").format(12.345, unit=True) == "12.3 mm/s"
    assert re.fullmatch(r"\d+", spec("ellipse95_area_mm2").format(812.6))
