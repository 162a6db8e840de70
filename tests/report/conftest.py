"""One realistic primer session (virtual board data, analysed, scored and stored: see sessions.py),
shared by the report tests. Its patient is named like a spreadsheet formula to prove the CSV export
makes such text inert."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

PATIENT_NAME = '=HYPERLINK("x")'
BIRTH_YEAR = 1984


@pytest.fixture(scope="session")
def primer_session(tmp_path_factory):
    from .sessions import build_primer_session

    store, session_id = build_primer_session(tmp_path_factory.mktemp("station-data"), name=PATIENT_NAME,
                                             birth_year=BIRTH_YEAR)
    yield SimpleNamespace(store=store, session_id=session_id)
    store.close()
