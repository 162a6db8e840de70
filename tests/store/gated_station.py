"""``python gated_station.py ARGS…`` runs ``station ARGS…`` in this process, with one pause.

After the first trial's raw data are stored it prints ``stored`` and waits for a line on its standard
input. test_stations.py stops the database server during that pause, then writes the line, so the
server goes away at the same point of the session on every run (after one trial, before the next).
"""

import sys

from station.cli import main
from station.store import database

_save = database.Store.save_trial_data
_calls = []


def _gated(self, *args, **kwargs):
    _save(self, *args, **kwargs)
    _calls.append(1)
    if len(_calls) == 1:
        print("stored", flush=True)
        sys.stdin.readline()  # the test's go-ahead (or end of input if it has gone)


database.Store.save_trial_data = _gated

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
