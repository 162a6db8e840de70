"""Calibrations as used: each stored once, everywhere, under the SHA-256 digest of its content."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import sqlalchemy as sa

from station.errors import StationError
from station.store.outbox import Ref
from station.store.routing import Router
from station.store.sql import insert_id, now_iso, to_json, upsert, uses_negative_ids
from station.store.tables import calibrations


class CalibrationRepository:
    """Reads and writes of the ``calibrations`` table."""

    def __init__(self, router: Router):
        self._db = router

    def add(self, calibration: dict | Any) -> int:
        """Store a calibration (a ``Calibration`` or its ``to_dict()``); an identical one is stored once.

        Raises
        ------
        StationError
            The calibration names no board.
        """
        data = calibration.to_dict() if hasattr(calibration, "to_dict") else dict(calibration)
        board_id = str(data.get("board_id", "")).upper()
        if not board_id:
            raise StationError("A calibration without a board id cannot be stored.")
        text = to_json(data, sort_keys=True)
        digest = hashlib.sha256(text.encode()).hexdigest()
        values = {"board_id": board_id, "created": str(data.get("created") or now_iso()), "data_json": text,
                  "digest": digest}

        def find(conn) -> int | None:
            return conn.execute(sa.select(calibrations.c.id).where(calibrations.c.digest == digest)).scalar()

        def work(conn) -> int:
            found = find(conn)
            if found is None and uses_negative_ids(conn):
                found = insert_id(conn, calibrations, values)
            elif found is None:  # two stations storing the same calibration at once: one row
                upsert(conn, calibrations, values, keys=["digest"], update=False)
                found = find(conn)
            return int(found)

        return self._db.write(work, mirror=lambda cid: [Ref(calibrations, cid)])

    def get(self, calibration_id: int) -> dict:
        """The stored ``Calibration.to_dict()`` (rebuild with ``Calibration.from_dict``).

        Raises
        ------
        StationError
            No such calibration.
        """
        return json.loads(self._db.row(calibrations, calibration_id, "calibration")["data_json"])
