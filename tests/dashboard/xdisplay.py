"""A private Xvfb server for tests, and screen grabs of it (``xwd -root`` decoded with numpy).

The server picks its own free display number (``-displayfd``), so parallel runs never collide and
nothing depends on an X server of the machine running the tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np

#: XWD file header: 25 big-endian CARD32 fields (X11 XWDFileHeader)
_XWD_FIELDS = ("header_size", "file_version", "pixmap_format", "pixmap_depth", "pixmap_width", "pixmap_height",
               "xoffset", "byte_order", "bitmap_unit", "bitmap_bit_order", "bitmap_pad", "bits_per_pixel",
               "bytes_per_line", "visual_class", "red_mask", "green_mask", "blue_mask", "bits_per_rgb",
               "colormap_entries", "ncolors", "window_width", "window_height", "window_x", "window_y",
               "window_bdrwidth")


def missing_tools() -> list[str]:
    """The X tools this module needs that are not on PATH."""
    return [t for t in ("Xvfb", "xwd", "xwininfo") if shutil.which(t) is None]


class Xvfb:
    """``with Xvfb() as x: ... x.display`` -- an Xvfb server on a free display, stopped on exit."""

    def __init__(self, *, width: int = 1600, height: int = 1000, depth: int = 24, timeout_s: float = 20.0):
        self.size = (width, height, depth)
        self.timeout_s = timeout_s
        self.display: str | None = None
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "Xvfb":
        read_fd, write_fd = os.pipe()
        width, height, depth = self.size
        self.proc = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{width}x{height}x{depth}", "-nolisten", "tcp",
             "-noreset"],
            pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        os.close(write_fd)
        deadline = time.monotonic() + self.timeout_s
        number = b""
        with os.fdopen(read_fd, "rb") as pipe:
            while not number.endswith(b"\n") and time.monotonic() < deadline:
                chunk = pipe.read(1)
                if not chunk:
                    break
                number += chunk
        if not number.strip():
            self.__exit__(None, None, None)
            raise RuntimeError("Xvfb did not report a display number")
        self.display = f":{int(number)}"
        return self

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def env(self, **extra) -> dict:
        """The environment of a client of this server (real xcb platform, no offscreen)."""
        env = dict(os.environ, DISPLAY=self.display, QT_QPA_PLATFORM="xcb", **extra)
        env.pop("WAYLAND_DISPLAY", None)
        return env

    def windows(self) -> str:
        """``xwininfo -root -tree`` of the server (window ids, names, geometry)."""
        return subprocess.run(["xwininfo", "-root", "-tree", "-display", self.display], capture_output=True,
                              text=True, check=True, timeout=20).stdout

    def grab(self) -> np.ndarray:
        """The whole screen as an ``(height, width, 3)`` uint8 RGB array."""
        raw = subprocess.run(["xwd", "-root", "-silent", "-display", self.display], capture_output=True,
                             check=True, timeout=30).stdout
        return decode_xwd(raw)


def decode_xwd(raw: bytes) -> np.ndarray:
    """Decode a 24/32-bit TrueColor ZPixmap XWD dump into an RGB array."""
    header = dict(zip(_XWD_FIELDS, np.frombuffer(raw[:100], dtype=">u4").tolist()))
    bpp = header["bits_per_pixel"]
    if header["pixmap_format"] != 2 or bpp not in (24, 32):
        raise ValueError(f"unsupported XWD dump: format {header['pixmap_format']}, {bpp} bpp")
    offset = header["header_size"] + 12 * header["ncolors"]
    h, w, stride = header["pixmap_height"], header["pixmap_width"], header["bytes_per_line"]
    rows = np.frombuffer(raw[offset:offset + stride * h], dtype=np.uint8).reshape(h, stride)
    nbytes = bpp // 8
    b = rows[:, :w * nbytes].reshape(h, w, nbytes).astype(np.uint32)
    if header["byte_order"] == 1:  # MSBFirst
        b = b[..., ::-1]
    pixels = sum(b[..., i] << (8 * i) for i in range(nbytes))
    out = np.empty((h, w, 3), np.uint8)
    for i, mask in enumerate((header["red_mask"], header["green_mask"], header["blue_mask"])):
        shift = (mask & -mask).bit_length() - 1
        out[..., i] = (pixels & mask) >> shift
    return out


def save_rgb_png(rgb: np.ndarray, path: Path) -> Path:
    """Write an RGB array as PNG (Pillow)."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path)
    return path


def window_geometry(tree: str, title: str) -> tuple[int, int, int, int] | None:
    """``(x, y, width, height)`` on the screen of the largest window named ``title`` (``xwininfo -tree``).

    Lines look like ``0x400007 "Balance Station": ("station" "Balance Station")  1500x900+0+0  +0+0``
    (size and position in the parent, then the absolute position). Qt also creates 1x1 helper
    windows with the application's name; they are skipped by taking the largest.
    """
    found = []
    for line in tree.splitlines():
        if f'"{title}"' not in line:
            continue
        tokens = line.split()
        sizes = [t for t in tokens if t[0].isdigit() and "x" in t and "+" in t]
        absolute = [t for t in tokens if t.startswith("+") and t.count("+") == 2]
        if not sizes or not absolute:
            continue
        w, h = map(int, sizes[-1].split("+")[0].split("x"))
        x, y = map(int, absolute[-1].lstrip("+").split("+"))
        found.append((w * h, (x, y, w, h)))
    if not found or max(found)[0] < 100 * 100:
        return None
    return max(found)[1]
