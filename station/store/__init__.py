"""SQLite persistence of patients, sessions, trials (raw counts as typed blobs), calibrations, metrics.

``Store.open(data_dir=None)`` opens (creating, migrating, recovering interrupted recordings) the
private database; see docs/ASSESSMENT.md for the data model.
"""

from station.store.database import Patient, Session, Store, TrialRecord

__all__ = ["Patient", "Session", "Store", "TrialRecord"]
