"""Persistence of patients, sessions, trials (raw counts as typed blobs), calibrations, metrics.

``Store.open(data_dir=None, url=None, read_only=False)`` opens (creating, migrating, recovering
interrupted recordings) the station database: the private SQLite file by default, or a PostgreSQL
server (``--database`` / ``STATION_DATABASE_URL``). See docs/DEPLOY.md for a clinic's server.
"""

from station.store.database import Patient, Session, Store, TrialRecord

__all__ = ["Patient", "Session", "Store", "TrialRecord"]
