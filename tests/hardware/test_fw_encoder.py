"""One encoder, two compilers: the firmware's C frame encoder against the shared test vectors."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

VECTORS = Path(__file__).resolve().parents[2] / "hardware" / "vectors" / "frames.tsv"


def _vector_rows() -> list[list[str]]:
    rows = []
    for line in VECTORS.read_text().splitlines():
        if line and not line.startswith("#"):
            rows.append(line.split("\t"))
    return rows


@pytest.fixture(scope="module")
def encoder_output(hw_build) -> dict:
    proc = subprocess.run([str(hw_build / "frame_vectors"), str(VECTORS)], capture_output=True, text=True,
                          timeout=60, check=True)
    out = {}
    for line in proc.stdout.splitlines():
        fields = line.split("\t")
        out[(fields[0], fields[1])] = fields[2:]
    return out


def test_every_data_and_info_vector_is_encoded_byte_exact(encoder_output):
    rows = [r for r in _vector_rows() if r[0] in ("data", "info")]
    assert len(rows) == 14  # 12 data + 2 info rows in the shared vectors
    for row in rows:
        kind, name, expected_hex = row[0], row[1], row[-1]
        assert encoder_output[(kind, name)] == [expected_hex], name


def test_crc_check_value(encoder_output):
    # CRC-16/CCITT-FALSE("123456789") as computed by the C encoder
    assert [k[1] for k in encoder_output if k[0] == "crc_check"] == ["29b1"]


def test_command_parser_accepts_every_command_vector(encoder_output):
    rows = [r for r in _vector_rows() if r[0] == "cmd"]
    assert {r[1] for r in rows} == {"start", "stop", "info", "set_board_id"}
    for row in rows:
        name, ctype, arg = row[1], row[2], row[3]
        got = encoder_output[("cmd", name)]
        assert got[0] == ctype, name
        if arg:
            assert got[1:] == ["4", arg], name  # u32 argument decoded little-endian
        else:
            assert got[1:] == ["0", "-"], name


def test_missing_toolchain_skips_with_the_apt_command(monkeypatch):
    import fw_toolchain

    monkeypatch.setattr(fw_toolchain.shutil, "which", lambda tool: None if tool == "avr-gcc" else "/usr/bin/" + tool)
    with pytest.raises(pytest.skip.Exception) as skipped:
        fw_toolchain.require_toolchain()
    assert "avr-gcc" in str(skipped.value)
    assert "apt-get install gcc-avr avr-libc arduino-core-avr arduino-mk simavr libsimavr-dev libsimavrparts1 libelf-dev" in str(skipped.value)
