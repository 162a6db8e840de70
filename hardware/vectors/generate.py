"""Regenerate hardware/vectors/frames.tsv from station.board.protocol (run from the repo root)."""
from station.board.protocol import *
rows = []
def data(name, seq, t, counts, status=0, missed=0):
    b = encode_data_frame(seq, t, counts, status, missed)
    rows.append(f"data\t{name}\t{seq}\t{t}\t{counts[0]}\t{counts[1]}\t{counts[2]}\t{counts[3]}\t{status}\t{missed}\t{b.hex()}")
data("zero", 0, 0, [0, 0, 0, 0])
data("typical", 1, 12500, [123456, -234567, 345678, -456789])
data("extremes_24bit", 2, 25000, [8388607, -8388608, 8388607, -8388608], 0x0F, 0)
data("minus_one", 3, 37500, [-1, -1, 1, 1])
data("seq_wrap_before", 65535, 4294967000, [100, 200, 300, 400])
data("seq_wrap_after", 0, 4294967295, [101, 201, 301, 401])
data("timestamp_wrap", 1, 207, [102, 202, 302, 402])
data("status_saturated_fl_br", 10, 1000000, [8388607, 5, 6, -8388608], 0x09, 0)
data("status_timeout_fr", 11, 1012500, [1, 0, 3, 4], 0x20, 0)
data("missed_conversions", 12, 1050000, [7, 8, 9, 10], 0x00, 3)
data("missed_saturates_255", 13, 9000000, [7, 8, 9, 10], 0x00, 255)
data("status_all_bits", 14, 123456789, [-42, 42, -4200000, 4200000], 0xFF, 1)
info = BoardInfo(1, 0, "1.2.3", 0x5B000001, "HX711", 80, 4)
b = encode_info_frame(info)
rows.append(f"info\tinfo_hx711\t1\t0\t1.2.3\t{0x5B000001}\t1\t80\t4\t{b.hex()}")
info = BoardInfo(1, 0, "0.9.0", 0xDEADBEEF, "virtual", 1000, 4)
b = encode_info_frame(info)
rows.append(f"info\tinfo_virtual_1khz\t1\t0\t0.9.0\t{0xDEADBEEF}\t127\t1000\t4\t{b.hex()}")
for name, cmd in [("start", CMD_START), ("stop", CMD_STOP), ("info", CMD_INFO)]:
    rows.append(f"cmd\t{name}\t{cmd}\t\t{encode_command(cmd).hex()}")
import struct
rows.append(f"cmd\tset_board_id\t{CMD_SET_BOARD_ID}\t{0x5B000002}\t{encode_command(CMD_SET_BOARD_ID, struct.pack('<I', 0x5B000002)).hex()}")
hdr = """# Wire-protocol test vectors (protocol 1.0). Normative: hardware/PROTOCOL.md.
# Read by the Python decoder tests (tests/board) and the firmware encoder's C test (hardware/test).
# Tab-separated; '#' lines are comments. The last column is the complete frame in hex.
# crc check: crc16_ccitt_false("123456789") = 0x29B1
# data  name  seq  t_us  count_fl  count_fr  count_bl  count_br  status  missed  hex
# info  name  proto_major  proto_minor  firmware  board_id  adc_kind  nominal_rate_hz  channels  hex
# cmd   name  type  arg(u32 or empty)  hex
"""
open("hardware/vectors/frames.tsv", "w").write(hdr + "\n".join(rows) + "\n")
