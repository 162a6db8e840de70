"""Child process of test_crash_recovery: a realtime single-leg session that the test kills with SIGKILL.

Prints one line per runner event (``kind <unix time>``) so the parent knows when the trial records, and
every 50 ms the frames the trial has received (``frames <count> <unix time>``): what the station had in hand
when it was killed, dated by its own progress, not by a wall clock a busy machine may have starved it of.
"""

import sys
import threading
import time

from station.assessment import protocols
from station.assessment.runner import RealClock, Runner
from station.board.acquisition import Acquisition
from station.board.virtual import BoardModel, VirtualBoard, VirtualTransport
from station.store import Store

from simsession import GAINS_COUNTS_PER_N, OFFSETS_COUNTS, calibration_for


def main(data_dir: str) -> None:
    board = VirtualBoard(seed=11, board=BoardModel(gains_counts_per_n=GAINS_COUNTS_PER_N, offsets_counts=OFFSETS_COUNTS))
    acq = Acquisition(VirtualTransport(board, realtime=True))
    store = Store.open(data_dir)
    patient = store.add_patient(name="crash", body_mass_kg=70.0)
    acq.start()

    def report():
        while True:
            print("frames", acq.recording_frames, repr(time.time()), flush=True)
            time.sleep(0.05)

    threading.Thread(target=report, daemon=True).start()

    def show(event):
        print(event.kind, repr(time.time()), flush=True)

    runner = Runner(protocols.get("single-leg", trials_per_side=1, duration_s=60.0, exclude_s=2.0, familiarisation=0), acquisition=acq,
                    store=store, patient_id=patient, calibration=calibration_for(board), on_event=show,
                    clock=RealClock(), sim_subject={"preset": "healthy"}, tare=False, poll_s=0.05)
    runner.run()


if __name__ == "__main__":
    main(sys.argv[1])
