"""Killing the station mid-trial loses at most the last half second; the trial comes back, interrupted.

The half second is counted in the board's frames the station had received (80 Hz): the child reports them as
it goes, so a machine too busy to run the child for a while cannot make frames that never arrived look lost.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from station.store import Store

HERE = Path(__file__).parent


def test_sigkill_mid_trial_keeps_all_but_the_last_half_second(tmp_path):
    data_dir = tmp_path / "station"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    child = subprocess.Popen([sys.executable, str(HERE / "crash_child.py"), str(data_dir)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env)
    try:
        recording_at = None
        deadline = time.monotonic() + 60.0
        while time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            kind, *_, stamp = line.split()
            if kind == "recording":
                recording_at = float(stamp)
                break
        assert recording_at is not None, child.stderr.read() if child.poll() is not None else "no recording event"
        time.sleep(1.5)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        # the frames of the trial the child had received at its last report before the kill
        received = [int(parts[1]) for parts in (ln.split() for ln in child.stdout.read().splitlines())
                    if len(parts) == 3 and parts[0] == "frames" and parts[1].isdigit()]
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    assert received and received[-1] > 80  # it was recording for more than a second

    with Store.open(data_dir) as store:  # the next start recovers the journal
        (session,) = store.list_sessions()
        assert session.status == "interrupted"
        (trial,) = store.trials(session.id)
        assert trial.status == "interrupted" and "recovered from its journal" in trial.reason
        assert (trial.side, trial.task) == ("left", "single_leg")
        arrays = store.trial_arrays(trial.id)
        stored = len(arrays["seq"])
        lost_s = (received[-1] - stored) / 80.0
        assert lost_s <= 0.5, f"lost {lost_s:.2f} s of what the station had received ({stored} of {received[-1]})"
        # everything before was kept: no gap in the sequence numbers, 80 Hz on the board's clock
        assert np.all(np.diff(arrays["seq"].astype(int)) % 65536 == 1)
        # and on the board's clock it spans what the station had received (the recording began before the stance)
        assert arrays["device_time_s"][-1] >= (received[-1] - 1) / 80.0 - 0.5
        assert trial.fs_hz == np.float64(trial.fs_hz) and abs(trial.fs_hz - 80.0) < 0.5
        assert not list(store.journals_dir.glob("*.journal"))
