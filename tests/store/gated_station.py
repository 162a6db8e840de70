"""``python gated_station.py ARGS…`` runs ``station ARGS…`` in this process, with one pause.

After the first trial's raw data are stored it prints ``stored`` and waits until the file named by
``STATION_TEST_GATE`` exists. test_stations.py stops the database server during that pause, so the
server goes away at the same point of the session on every run (after one trial, before the next).
"""

import os
import sys
import time

from station.cli import main
from station.store import database

_save = database.Store.save_trial_data
_calls = []


def _gated(self, *args, **kwargs):
    _save(self, *args, **kwargs)
    _calls.append(1)
    if len(_calls) == 1:
        print("stored", flush=True)
        deadline = time.monotonic() + 60
        while not os.path.exists(os.environ["STATION_TEST_GATE"]) and time.monotonic() < deadline:
            time.sleep(0.05)


database.Store.save_trial_data = _gated

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
