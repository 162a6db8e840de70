"""Decode throughput: the numba kernel vs the plain-Python reference on the same 1,000,000-frame buffer.

The reference is timed on the first 50,000 frames of that buffer and extrapolated linearly (it is a
byte-by-byte Python loop: linear in the input, and the full buffer would take minutes).
Targets: kernel >= 5 M frames/s and >= 50x the reference.

    .venv/bin/python bench/decode.py [--frames N]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from station.board.protocol import DATA_FRAME_SIZE, FRAME_DTYPE, TYPE_DATA, SYNC0, SYNC1
from station.board.decode import CRC16_TABLE, decode_kernel_numpy, decode_reference


def build_buffer(n: int) -> bytes:
    """n valid data frames, CRCs computed with the table vectorised over frames (fast set-up)."""
    rng = np.random.default_rng(0)
    f = np.zeros(n, dtype=FRAME_DTYPE)
    f["seq"] = np.arange(n) & 0xFFFF
    f["t_us"] = (np.arange(n, dtype=np.int64) * 12500) & 0xFFFFFFFF
    f["counts"] = rng.integers(-(1 << 23), 1 << 23, size=(n, 4))
    out = np.zeros((n, DATA_FRAME_SIZE), dtype=np.uint8)
    out[:, 0], out[:, 1], out[:, 2], out[:, 3] = SYNC0, SYNC1, 24, TYPE_DATA
    out[:, 4:28] = f.view(np.uint8).reshape(n, 24)
    crc = np.full(n, 0xFFFF, dtype=np.uint32)
    for k in range(2, 28):
        crc = ((crc << 8) & 0xFFFF) ^ CRC16_TABLE[((crc >> 8) ^ out[:, k]) & 0xFF]
    out[:, 28] = crc & 0xFF
    out[:, 29] = crc >> 8
    return out.tobytes()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=1_000_000)
    ap.add_argument("--reference-frames", type=int, default=50_000)
    args = ap.parse_args()
    data = build_buffer(args.frames)
    buf = np.frombuffer(data, dtype=np.uint8)
    t = time.perf_counter()
    decode_kernel_numpy(buf[:3000])  # compile / load from the on-disk cache
    print(f"kernel warm-up (compile or cache load): {time.perf_counter() - t:.2f} s")
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        frames, *_ = decode_kernel_numpy(buf)
        best = min(best, time.perf_counter() - t)
    assert len(frames) == args.frames
    kernel_rate = args.frames / best
    m = args.reference_frames
    t = time.perf_counter()
    ref_frames, *_ = decode_reference(data[: m * DATA_FRAME_SIZE])
    ref_s = time.perf_counter() - t
    assert ref_frames.tobytes() == frames[:m].tobytes()
    ref_rate = m / ref_s
    print(f"buffer: {args.frames:,} data frames ({len(data) / 1e6:.1f} MB)")
    print(f"numba kernel:       {best * 1e3:8.1f} ms  -> {kernel_rate / 1e6:6.2f} M frames/s (best of 5)")
    print(f"python reference:   {ref_s * 1e3:8.1f} ms for {m:,} frames -> {ref_rate / 1e6:6.3f} M frames/s "
          f"(extrapolated to the full buffer: {args.frames / ref_rate:.1f} s)")
    print(f"speed-up: {kernel_rate / ref_rate:.0f}x   (targets: >= 5 M frames/s, >= 50x)")


if __name__ == "__main__":
    main()
