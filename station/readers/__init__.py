"""Input formats of ``station analyze``: each reader turns a file into :class:`Recording` objects.

Formats (docs/METRICS.md §11.6), recognised by their content (:func:`read_recordings`):

- COP table ``t_s,cop_ml_mm,cop_ap_mm``;
- corner-force table ``t_s,f_fl_n,f_fr_n,f_bl_n,f_br_n`` (needs a board size);
- two-plate table ``t_s,fz_left_n,cop_ml_left_mm,cop_ap_left_mm,fz_right_n,cop_ml_right_mm,cop_ap_right_mm``;
- two-board corner table ``t_s,f_fl_left_n,...,f_br_left_n,f_fl_right_n,...,f_br_right_n``;
- C3D with FORCE_PLATFORM types 1-4 (one recording per plate, or one two-plate recording);
- KINVENT Physio CSV exports (:mod:`station.readers.kinvent`: one recording per trial block, with its
  side, eyes condition and the vendor's own metrics);
- Wii Balance Board recorder files (:mod:`station.readers.wii_recorder`: tab separated corner forces).

The project's own trial files are read by :func:`station.board.trialfile.read_trial` and analysed by
:func:`station.core.pipeline.analyze_trial`; :func:`is_trial_file` tells them apart.

Limits (hostile input): a file over :data:`MAX_INPUT_BYTES` is refused before it is read, one over
:data:`MAX_SAMPLES` rows as soon as reading has counted that many lines (before it is parsed); the
limits keep the largest accepted input to seconds (docs/METRICS.md §11.7, bench/large_input.py); a COP beyond ±:data:`MAX_ABS_COP_MM` or a force beyond ±:data:`MAX_ABS_FORCE_N`
is refused with its line number.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from station.core.recording import Plate, Recording  # noqa: F401  (the readers' product)

#: largest input file accepted (bytes): 500 000 rows of up to ~130 characters (a two-board table is ~80)
MAX_INPUT_BYTES = 64 * 1024 * 1024
#: most samples accepted in one recording (1.4 h at 100 Hz, 8.3 min at 1 kHz): the largest accepted
#: table is analysed in about 4 s of CPU, 10 s wall on a loaded two-core machine (bench/large_input.py)
MAX_SAMPLES = 500_000
#: a COP farther than this from the origin is not a human standing on a plate (10 m)
MAX_ABS_COP_MM = 10_000.0
#: a force beyond this is not a human standing on a plate (1 MN)
MAX_ABS_FORCE_N = 1.0e6
#: file suffixes of the C3D format
C3D_SUFFIXES = (".c3d",)


def is_trial_file(path: Path) -> bool:
    """True for a ZIP archive (the trial-file container); the trial reader validates the rest."""
    try:
        return zipfile.is_zipfile(path)
    except OSError:
        return False


def looks_like_damaged_archive(path: Path) -> bool:
    """True for a file that starts like a ZIP archive (a trial file) but is not a readable one."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError:
        return False
    return head == b"PK\x03\x04" and not is_trial_file(path)


def is_c3d_file(path: Path) -> bool:
    """True for a ``.c3d`` suffix or a C3D header (parameter-block pointer, 0x50 key byte)."""
    if path.suffix.lower() in C3D_SUFFIXES:
        return True
    try:
        with open(path, "rb") as fh:
            head = fh.read(2)
    except OSError:
        return False
    return len(head) == 2 and head[1] == 0x50 and head[0] >= 2 and head[0] < 0x20


def text_head(path: Path, n_bytes: int = 4096) -> str:
    """The first ``n_bytes`` of a file as text (undecodable bytes replaced), for recognising its format."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(n_bytes)
    except OSError:
        return ""
    return head.decode("utf-8-sig", errors="replace")


def read_recordings(path: Path, *, board_size: str | None = None, plates=None, lab_axes: str = "xy",
                    threshold_n: float = 100.0) -> list[Recording]:
    """Every trial of a C3D file, KINVENT export, Wii Balance Board recorder file or CSV table.

    The format is recognised by content (a C3D header; a KINVENT export's first line; the recorder's
    tab-separated header), then by the CSV table's header columns.

    Raises
    ------
    station.errors.InputFileError
        The file cannot be read (one line: the file, the line number and what is wrong).
    """
    if is_c3d_file(path):
        from station.readers.c3d import read_c3d

        return read_c3d(path, plates=plates, threshold_n=threshold_n, lab_axes=lab_axes)
    head = text_head(path)
    from station.readers import kinvent, wii_recorder

    if kinvent.looks_like(head):
        return kinvent.read_kinvent(path)
    if wii_recorder.looks_like(head):
        return [wii_recorder.read_wii_recorder(path)]
    from station.readers.tables import read_table

    return [read_table(path, board_size=board_size)]
