"""The serial-port transport (pyserial): USB CDC boards, USB-serial bridges and pseudo-terminals.

``open()`` turns every way a port can be wrong into one clear :class:`PortError` sentence (missing,
permission denied, busy, not a board) and refuses a board whose protocol major differs from ours
(:class:`ProtocolError`). ``read()`` raises :class:`LinkLost` when the device goes away;
``reconnect()`` waits for the device path to return and reopens it.
"""

from __future__ import annotations

import errno
import functools
import logging
import os
import time

import numpy as np

from station.board.protocol import (
    CMD_INFO,
    CMD_START,
    CMD_STOP,
    PROTOCOL_MAJOR,
    BoardInfo,
    encode_command,
    encode_data_frames,
)
from station.board.transport import LinkLost, Transport
from station.errors import PortError, ProtocolError

log = logging.getLogger(__name__)

DEFAULT_BAUDRATE = 500_000


class SerialTransport(Transport):
    """A board on a serial device path.

    Parameters
    ----------
    path : str
        Device path (``/dev/ttyACM0``, a pty, or a symlink to one such as ``station simulate --link``).
    baudrate : int
        500000 by default (exact on a 16 MHz AVR); native-USB boards ignore it.
    info_timeout_s : float
        How long :meth:`open` waits for the board's info frame (an Arduino Uno resets when the port
        opens and needs ~1.5 s to boot).
    """

    def __init__(self, path: str, *, baudrate: int = DEFAULT_BAUDRATE, info_timeout_s: float = 3.0):
        self.path = str(path)
        self.name = self.path
        self.baudrate = int(baudrate)
        self.info_timeout_s = float(info_timeout_s)
        self._serial = None
        self._pending = b""  # data frames that arrived during the handshake, re-encoded
        self.info: BoardInfo | None = None

    # ------------------------------------------------------------------ opening
    def _open_port(self, *, keep_input: bool = False):
        import serial

        try:
            if keep_input:
                return _keep_input_serial_class()(self.path, baudrate=self.baudrate, timeout=0, write_timeout=1.0,
                                                  exclusive=True)
            return serial.Serial(self.path, baudrate=self.baudrate, timeout=0, write_timeout=1.0, exclusive=True)
        except serial.SerialException as exc:
            raise self._port_error(exc) from None
        except OSError as exc:
            raise self._port_error(exc) from None

    def _port_error(self, exc: Exception) -> PortError:
        code = getattr(exc, "errno", None)
        text = str(exc)
        if code == errno.ENOENT or (code is None and not os.path.exists(self.path)):
            return PortError(f"no serial port at {self.path}: the device does not exist "
                             "(is the board plugged in? `station ports` lists candidates).")
        if code in (errno.EACCES, errno.EPERM):
            return PortError(f"permission denied opening {self.path}: add your user to the 'dialout' group "
                             "(sudo usermod -aG dialout $USER) and log in again.")
        if code in (errno.EBUSY, errno.EAGAIN, errno.EWOULDBLOCK) or "exclusively lock" in text or "busy" in text.lower():
            return PortError(f"{self.path} is busy: another program (a serial monitor, another station) has it open.")
        if code == errno.ENOTTY or "Inappropriate ioctl" in text:
            return PortError(f"{self.path} is not a serial port.")
        return PortError(f"cannot open {self.path}: {text}.")

    def _handshake(self, timeout_s: float) -> BoardInfo:
        """Ask for the info frame until one arrives; keep any data bytes that came with it."""
        from station.board.decode import StreamDecoder, warm_up

        warm_up()  # a first-run JIT compilation must not eat the board's answer time
        ser = self._serial
        dec = StreamDecoder()
        received = 0
        deadline = time.monotonic() + timeout_s
        next_ask = 0.0
        kept = []
        while time.monotonic() < deadline:
            now = time.monotonic()
            if now >= next_ask:
                try:
                    ser.write(encode_command(CMD_INFO))
                except Exception as exc:
                    raise LinkLost(f"{self.path}: the board went away while opening ({exc}).") from None
                next_ask = now + 0.5
            chunk = self._read_raw(0.05)
            if not chunk:
                continue
            received += len(chunk)
            batch = dec.feed(chunk)
            if len(batch.frames):
                kept.append(batch.frames)
            if batch.infos:
                info = batch.infos[0]
                # Data frames that came with the handshake (a board that kept streaming across a
                # reconnect) are handed to the first read(), re-encoded, so none is lost.
                self._pending = (encode_data_frames(np.concatenate(kept)) if kept else b"") + dec.tail
                if info.protocol_major != PROTOCOL_MAJOR:
                    raise ProtocolError(
                        f"the board on {self.path} speaks protocol {info.protocol_major}.{info.protocol_minor}; "
                        f"this station understands {PROTOCOL_MAJOR}.x (update the station or reflash the board)."
                    )
                return info
        valid = dec.totals["frames"]
        if received == 0:
            raise PortError(f"no balance board answered on {self.path}: nothing was received within {timeout_s:g} s.")
        if valid:
            raise PortError(f"the device on {self.path} streams data frames but never answered the info request "
                            f"within {timeout_s:g} s.")
        raise PortError(f"no balance board answered on {self.path}: received {received} bytes of non-protocol data.")

    def open(self) -> BoardInfo:
        return self._open(flush=True)

    def _open(self, *, flush: bool) -> BoardInfo:
        self.close()
        self._serial = self._open_port(keep_input=not flush)
        self._pending = b""
        try:
            if flush:  # stale bytes from an earlier session; after a reconnect every byte counts
                try:
                    self._serial.reset_input_buffer()
                except Exception:
                    pass
            self.info = self._handshake(self.info_timeout_s)
        except LinkLost as exc:
            self.close()
            raise PortError(str(exc)) from None
        except BaseException:
            self.close()
            raise
        log.info("%s: board %s, protocol %s, firmware %s, %s at %d Hz", self.path, self.info.board_id_hex,
                 f"{self.info.protocol_major}.{self.info.protocol_minor}", self.info.firmware,
                 self.info.adc_kind, self.info.nominal_rate_hz)
        return self.info

    # ------------------------------------------------------------------ commands
    def request_info(self, timeout_s: float | None = None) -> BoardInfo:
        """Ask the open board for its info frame again (e.g. to read back a setting); return it."""
        self.info = self._handshake(self.info_timeout_s if timeout_s is None else timeout_s)
        self._pending = b""  # data bytes of a handshake outside streaming are of no use here
        return self.info

    def command(self, cmd: int, payload: bytes = b"", *, timeout_s: float = 2.0) -> int:
        """Send a command frame and wait for its ACK; return the ACK result (0 = ok).

        Raises
        ------
        PortError
            No ACK for ``cmd`` arrived within ``timeout_s``.
        """
        from station.board.decode import StreamDecoder

        self.write(encode_command(cmd, payload))
        dec = StreamDecoder()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            chunk = self._read_raw(0.05)
            if not chunk:
                continue
            for acked, result in dec.feed(chunk).acks:
                if acked == cmd:
                    return int(result)
        raise PortError(f"the board on {self.path} did not acknowledge command 0x{cmd:02X} within {timeout_s:g} s.")

    # ------------------------------------------------------------------ streaming
    def start(self) -> None:
        self.write(encode_command(CMD_START))

    def stop(self) -> None:
        if self._serial is None:
            return
        try:
            self._serial.write(encode_command(CMD_STOP))
            self._serial.flush()
        except Exception as exc:
            log.debug("stop on a lost link: %s", exc)

    def write(self, data: bytes) -> None:
        if self._serial is None:
            raise LinkLost(f"{self.path} is not open.")
        try:
            self._serial.write(data)
        except Exception as exc:
            raise LinkLost(f"{self.path}: the board went away ({exc}).") from None

    def _read_raw(self, timeout_s: float) -> bytes:
        ser = self._serial
        if ser is None:
            raise LinkLost(f"{self.path} is not open.")
        try:
            ser.timeout = timeout_s
            data = ser.read(1)
            if data:
                waiting = ser.in_waiting
                if waiting:
                    data += ser.read(waiting)
            return data
        except Exception as exc:  # SerialException, OSError(EIO) on a vanished device or closed pty
            raise LinkLost(f"lost the link to the board on {self.path} ({exc}).") from None

    def read(self, timeout_s: float = 0.05) -> bytes:
        if self._pending:
            data, self._pending = self._pending, b""
            return data
        data = self._read_raw(timeout_s)
        if not data and not os.path.exists(self.path):
            raise LinkLost(f"the board on {self.path} went away (the device path vanished).")
        return data

    def close(self) -> None:
        ser, self._serial = self._serial, None
        if ser is not None:
            try:
                ser.close()
            except Exception as exc:
                log.debug("close: %s", exc)

    def reconnect(self, timeout_s: float = 10.0) -> BoardInfo:
        """Poll for the device path to come back, reopen it and redo the handshake."""
        self.close()
        deadline = time.monotonic() + timeout_s
        last: Exception | None = None
        while time.monotonic() < deadline:
            if os.path.exists(self.path):
                try:
                    return self._open(flush=False)
                except ProtocolError:
                    raise
                except PortError as exc:
                    last = exc
            time.sleep(0.1)
        raise LinkLost(f"the board on {self.path} did not come back within {timeout_s:g} s"
                       + (f" ({last})" if last else "") + ".")


@functools.cache
def _keep_input_serial_class():
    import serial

    class KeepInputSerial(serial.Serial):
        """pyserial 3.5 discards pending input while opening a port; after a reconnect those bytes
        are frames the board sent as soon as it was back, so keep them (pyserial is pinned to 3.5)."""

        def _reset_input_buffer(self):
            if self.is_open:
                super()._reset_input_buffer()

    return KeepInputSerial
