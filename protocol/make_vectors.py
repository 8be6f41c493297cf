"""Regenerate protocol/vectors/: golden frames for every frame type and command.

Usage: python protocol/make_vectors.py [--check]

Every vector is a pair NAME.bin (the bytes on the wire) + NAME.json (what a
decoder must make of them), listed in index.json. Kinds:
  frame      a valid frame; "decoded" is codec.decode_frame's dict
  fragments  a valid frame cut into notifications at "mtu"; "fragments" as hex
  fragloss   notifications (hex) where some were lost; "frames" the complete
             frames (hex) a receiver may return, "dropped" its drop count
  bad        an invalid frame; "error" is a substring of the WireError message
  crc        the CRC check value of "input"
  adv        advertising + scan response bytes of a node

Deterministic (no clocks, no random module): tests regenerate the set and
require byte equality with the committed files. `--check` does that here.
"""

import json
import struct
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from myowire import codec, gatt  # noqa: E402

VECTOR_DIR = HERE / "vectors"


def _lcg(seed):
    """Tiny deterministic generator (Numerical Recipes LCG) so vectors never change."""
    state = seed & 0xFFFFFFFF
    while True:
        state = (1664525 * state + 1013904223) & 0xFFFFFFFF
        yield state


def _emg_like(n, seed, amp=4000):
    """int16 samples that look like a burst of EMG: noise times a smooth envelope."""
    g = _lcg(seed)
    out = []
    for i in range(n):
        noise = (next(g) >> 16) - 32768  # -32768..32767
        env = 0.2 + 0.8 * (1.0 - abs(2.0 * i / max(n - 1, 1) - 1.0))
        out.append(int(noise * env * amp / 32768))
    return out


def _raw(vt, node_id, enc, count, seq, t0_us, payload, crc=None):
    """A frame from raw header fields, sealed with a correct CRC unless crc is given."""
    body = struct.pack("<BBBBIQ", vt, node_id, enc, count, seq, t0_us) + bytes(payload)
    c = codec.crc16(body) if crc is None else crc
    return body + struct.pack("<H", c)


def _vt(ftype, version=codec.VERSION):
    return (version << 4) | ftype


def _frames():
    """(name, frame bytes, note) for the valid single frames."""
    c = codec
    v = []
    v.append(("emg_1ch_5", c.encode_emg(3, 42, 1_000_000, [0, 1, -1, 32767, -32768]), "smallest worked example"))
    v.append(("emg_1ch_113_mtu247", c.encode_emg(1, 1000, 56_500_000, _emg_like(113, 1)), "one full frame at MTU 247"))
    v.append(("emg_1ch_1", c.encode_emg(2, 0, 0, [-5]), "one sample, seq 0, t0 0"))
    v.append(
        ("emg_1ch_255_wrap", c.encode_emg(12, 0xFFFFFFFF, 0xFFFFFFFFFFFF0000, _emg_like(255, 2)), "max count, seq and t0 near wrap")
    )
    v.append(("emg_2ch_4", c.encode_emg(4, 7, 2_000_500, [100, -100, 200, -200, 300, -300, 400, -400], channels=2), "interleaved 2 channels"))
    imu = [[10, -20, 1000, 15, -30, 45], [12, -18, 998, 14, -29, 47], [-32768, 32767, 0, 0, -1, 1]]
    v.append(("imu_3", c.encode_imu(5, 8, 3_000_000, imu), "3 IMU samples (mg, 0.1 deg/s)"))
    v.append(("foot_2", c.encode_foot(6, 9, 4_000_000, [[120, 0, 1], [60500, 1, 0]]), "heel on, then forefoot off"))
    status = {
        "battery_mv": 3912,
        "battery_pct": 78,
        "flags": c.F_IMU | c.F_STREAMING | c.F_CONNECTED,
        "firmware": [0, 1, 0],
        "selftest": c.S_AFE | c.S_IMU | c.S_CLOCK | c.S_STORAGE,
        "emg_hz": 2000,
        "imu_hz": 100,
        "highpass_hz": 20,
        "powerline_hz": 50,
        "nv_per_lsb": 500,
        "overrun_samples": 0,
        "oldest_seq": 18,
        "filter_flags": c.FF_HIGHPASS | c.FF_HIGHPASS_4TH,
        "label": "L tib ant",
    }
    v.append(("status_label", c.encode_status(3, 43, 1_056_500, status), "status with a label"))
    st2 = dict(status)
    st2.update(
        label="",
        flags=c.F_LEAD_OFF | c.F_CLIPPING | c.F_OVERRUN | c.F_CONFIG_DEFAULTS | c.F_LOW_BATTERY,
        battery_pct=4,
        battery_mv=3401,
        overrun_samples=1234,
        selftest=c.S_CLOCK,
        filter_flags=c.FF_HIGHPASS | c.FF_POWERLINE,
        powerline_hz=60,
        emg_hz=1926,
        imu_hz=0,
    )
    v.append(("status_alarms", c.encode_status(7, 100, 9_000_000, st2), "every alarm flag, no label"))
    v.append(("sync_reply", c.encode_sync_reply(3, 17, 5_000_000_004, 1_234_567, 1_234_789), "answer to cmd_sync (command id 17)"))
    v.append(("ack_ok_start", c.encode_ack(3, 10, 990_000, c.C_START, c.ACK_OK, 0), "start accepted, next data seq 0"))
    v.append(("ack_gone", c.encode_ack(3, 21, 2_000_000, c.C_RESEND, c.ACK_GONE, 500, "frames 100-499 no longer held"), "resend partly gone"))
    v.append(("ack_bad_args", c.encode_ack(3, 22, 2_000_100, c.C_CONFIGURE, c.ACK_BAD_ARGS, 0, "emg_hz 3000 not in 1000,1926,2000"), "configure refused"))
    v.append(("ack_unknown", c.encode_ack(3, 23, 2_000_200, 99, c.ACK_UNKNOWN, 0), "opcode 99 unknown to the node"))
    host_t = 5_000_000_000
    v.append(("cmd_start", c.encode_command(3, 10, host_t, c.C_START), ""))
    v.append(("cmd_stop", c.encode_command(3, 11, host_t + 1, c.C_STOP), ""))
    v.append(
        ("cmd_configure", c.encode_command(3, 12, host_t + 2, c.C_CONFIGURE, c.configure_args(2000, 20, 50, 100, "R gastroc med")), "")
    )
    v.append(
        (
            "cmd_configure_off",
            c.encode_command(
                3, 13, host_t + 3, c.C_CONFIGURE,
                c.configure_args(0, 0, 0, 0, "", new_node_id=9, flags=c.CFG_POWERLINE_OFF | c.CFG_IMU_OFF | c.CFG_CLEAR_LABEL),
            ),
            "renumber to node 9, powerline removal off, IMU off, label cleared",
        )
    )
    v.append(("cmd_sync", c.encode_command(3, 17, host_t + 4, c.C_SYNC), "t0_us is t1"))
    v.append(("cmd_resend", c.encode_command(3, 21, host_t + 5, c.C_RESEND, c.resend_args(100, 130)), "frames 100..130 inclusive"))
    v.append(("cmd_status", c.encode_command(3, 14, host_t + 6, c.C_STATUS), ""))
    v.append(("cmd_identify", c.encode_command(3, 15, host_t + 7, c.C_IDENTIFY, bytes([5])), "blink 5 s"))
    v.append(("cmd_reboot", c.encode_command(3, 16, host_t + 8, c.C_REBOOT), ""))
    v.append(("cmd_start_broadcast", c.encode_command(codec.BROADCAST, 30, host_t + 9, c.C_START), "node id 0xFF: every node"))
    return v


def _bad():
    """(name, frame bytes, expected error substring)."""
    c = codec
    good = c.encode_emg(3, 42, 1_000_000, [0, 1, -1, 32767, -32768])
    bad_crc = bytearray(good)
    bad_crc[-1] ^= 0x01
    flipped = bytearray(good)
    flipped[20] ^= 0x40  # a sample bit flipped in transit
    st = c.encode_status(3, 1, 2, {"label": "ab"})
    b = []
    b.append(("bad_empty", b"", "truncated frame"))
    b.append(("bad_truncated_header", good[:10], "truncated frame"))
    b.append(("bad_truncated_payload", good[:-3], "CRC mismatch"))
    b.append(("bad_crc", bytes(bad_crc), "CRC mismatch"))
    b.append(("bad_bit_flip", bytes(flipped), "CRC mismatch"))
    b.append(("bad_version", _raw(_vt(c.T_EMG, 2), 3, 0, 1, 0, 0, b"\x00\x00"), "unknown protocol version 2"))
    b.append(("bad_version_zero", _raw(_vt(c.T_EMG, 0), 3, 0, 1, 0, 0, b"\x00\x00"), "unknown protocol version 0"))
    b.append(("bad_type", _raw(_vt(9), 3, 0, 0, 0, 0, b""), "unknown frame type 9"))
    b.append(("bad_type_zero", _raw(_vt(0), 3, 0, 0, 0, 0, b""), "unknown frame type 0"))
    b.append(("bad_emg_length", _raw(_vt(c.T_EMG), 3, 0, 5, 0, 0, b"\x00" * 8), "length mismatch"))
    b.append(("bad_emg_absurd_count", _raw(_vt(c.T_EMG), 3, 0, 255, 0, 0, b"\x00" * 20), "length mismatch"))
    b.append(("bad_emg_zero_count", _raw(_vt(c.T_EMG), 3, 0, 0, 0, 0, b""), "absurd sample count"))
    b.append(("bad_emg_format", _raw(_vt(c.T_EMG), 3, 0x03, 1, 0, 0, b"\x00\x00"), "unknown sample format 3"))
    b.append(("bad_oversize", _raw(_vt(c.T_EMG), 3, 0xF0, 32, 0, 0, b"\x00" * 1024), "exceeds the 1024-byte maximum"))
    b.append(("bad_imu_axes", _raw(_vt(c.T_IMU), 3, 0x20, 1, 0, 0, b"\x00" * 6), "IMU frame must carry 6 axes"))
    b.append(("bad_foot_length", _raw(_vt(c.T_FOOT), 3, 0, 2, 0, 0, b"\x00" * 6), "length mismatch"))
    b.append(("bad_foot_zero", _raw(_vt(c.T_FOOT), 3, 0, 0, 0, 0, b""), "absurd event count"))
    b.append(("bad_status_short", _raw(_vt(c.T_STATUS), 3, 0, 0, 0, 0, b"\x00" * 20), "status payload too short"))
    lab_mismatch = bytearray(st[16:-2])
    lab_mismatch[25] = 5  # says 5 label bytes, carries 2
    b.append(("bad_status_label_len", _raw(_vt(c.T_STATUS), 3, 0, 0, 1, 2, lab_mismatch), "status label length 5"))
    bad_utf8 = bytearray(st[16:-2])
    bad_utf8[26] = 0xFF
    b.append(("bad_status_utf8", _raw(_vt(c.T_STATUS), 3, 0, 0, 1, 2, bad_utf8), "not valid UTF-8"))
    b.append(("bad_status_count", _raw(_vt(c.T_STATUS), 3, 0, 3, 1, 2, st[16:-2]), "absurd count 3"))
    b.append(("bad_sync_length", _raw(_vt(c.T_SYNC), 3, 0, 0, 17, 0, b"\x00" * 16), "time-sync reply must have 24"))
    sync_pl = struct.pack("<QQQ", 1, 2, 3)
    b.append(("bad_sync_t0", _raw(_vt(c.T_SYNC), 3, 0, 0, 17, 4, sync_pl), "differs from its t3_us"))
    b.append(("bad_encoding_nonzero", _raw(_vt(c.T_SYNC), 3, 0x10, 0, 17, 3, sync_pl), "encoding byte 0x10 in a sync frame must be 0"))
    b.append(("bad_ack_short", _raw(_vt(c.T_ACK), 3, 0, 0, 17, 0, b"\x01\x00"), "ack payload of 2 bytes"))
    b.append(("bad_ack_long", _raw(_vt(c.T_ACK), 3, 0, 0, 17, 0, b"\x01\x00\x00\x00\x00\x00" + b"x" * 65), "ack payload of 71 bytes"))
    b.append(("bad_ack_utf8", _raw(_vt(c.T_ACK), 3, 0, 0, 17, 0, b"\x01\x00\x00\x00\x00\x00\xc3"), "ack message is not valid UTF-8"))
    b.append(("bad_cmd_empty", _raw(_vt(c.T_CMD), 3, 0, 0, 1, 0, b""), "command frame without an opcode"))
    b.append(("bad_cmd_opcode", _raw(_vt(c.T_CMD), 3, 0, 0, 1, 0, b"\x63"), "unknown command opcode 99"))
    b.append(("bad_cmd_resend_args", _raw(_vt(c.T_CMD), 3, 0, 0, 1, 0, b"\x05\x01\x00\x00\x00"), "command resend needs 8 argument bytes, got 4"))
    b.append(("bad_cmd_start_args", _raw(_vt(c.T_CMD), 3, 0, 0, 1, 0, b"\x01\x00"), "command start needs 0 argument bytes, got 1"))
    b.append(("bad_cmd_configure_short", _raw(_vt(c.T_CMD), 3, 0, 0, 1, 0, b"\x03\xd0\x07"), "configure needs 10 argument bytes"))
    cfg_r = bytearray(b"\x03" + c.configure_args(2000, 20, 0, 100, "ab"))
    cfg_r[9] = 1
    b.append(("bad_cmd_configure_reserved", _raw(_vt(c.T_CMD), 3, 0, 0, 1, 0, cfg_r), "configure reserved byte must be 0"))
    cfg = bytearray(b"\x03" + c.configure_args(2000, 20, 0, 100, "ab"))
    cfg[10] = 17  # label_len beyond MAX_LABEL
    b.append(("bad_cmd_configure_label", _raw(_vt(c.T_CMD), 3, 0, 0, 1, 0, cfg), "configure label length 17"))
    return b


def _fragment_vectors():
    """(name, frame, mtu, note): frames longer than one notification at small MTUs."""
    c = codec
    n23 = c.emg_samples_for_mtu(23)
    out = [
        ("frag_emg_mtu23", c.encode_emg(1, 5000, 2_500_000, _emg_like(n23, 3)), 23, "the EMG frame a node sends at MTU 23"),
        ("frag_emg_mtu27", c.encode_emg(1, 5001, 2_558_500, _emg_like(c.emg_samples_for_mtu(27), 4)), 27, "MTU 27 (BLE 4.0 max PDU)"),
        ("frag_status_mtu23", c.encode_status(1, 5002, 2_600_000, {"label": "R vast lat", "emg_hz": 2000}), 23, "status at MTU 23"),
        (
            "frag_ack_mtu23",
            c.encode_ack(1, 77, 9_000_000, c.C_CONFIGURE, c.ACK_BAD_ARGS, 0, "highpass_hz 30 outside 10-20"),
            23,
            "a REPLY notification at MTU 23: an ack with a message",
        ),
    ]
    return out


def _fragloss_vectors():
    """(name, notifications, frames a receiver returns, drop count, note)."""
    c = codec
    a = c.encode_emg(1, 10, 0, _emg_like(40, 5))  # 98 bytes -> 5 fragments at MTU 23
    b = c.encode_emg(1, 11, 20_000, _emg_like(40, 6))
    fa = c.fragment(a, 20)
    fb = c.fragment(b, 20)
    small = c.encode_ack(1, 3, 5, c.C_STOP, c.ACK_OK)  # 24 bytes: 2 fragments at MTU 23
    out = []
    out.append(("fragloss_middle", fa[:2] + fa[3:] + fb, [b], 1, "fragment 2 of frame A lost: A dropped, B intact"))
    out.append(("fragloss_last", fa[:-1] + fb, [b], 1, "A's last fragment lost; B's FIRST restarts"))
    out.append(("fragloss_first", fa[1:] + fb, [b], 0, "A's first fragment lost: A's tail ignored"))
    out.append(("fragloss_then_whole", fa[:-1] + [c.encode_emg(1, 12, 40_000, [1, 2, 3])], [c.encode_emg(1, 12, 40_000, [1, 2, 3])], 1,
                "an unfragmented frame interrupts A"))
    out.append(("fragloss_reordered", [fa[0], fa[2], fa[1]] + fa[3:] + c.fragment(small, 20), [small], 1, "out-of-order fragment"))
    return out


def build_vectors():
    """{file name: bytes} for every file of protocol/vectors/ (index.json included)."""
    files = {}
    index = []

    def put(name, frame, meta):
        files[name + ".bin"] = bytes(frame)
        files[name + ".json"] = _dump(meta)
        index.append({"name": name, "kind": meta["kind"]})

    for name, frame, note in _frames():
        put(name, frame, {"kind": "frame", "note": note, "decoded": codec.decode_frame(frame)})
    for name, frame, mtu, note in _fragment_vectors():
        frags = codec.fragment(frame, mtu - 3)
        put(
            name,
            frame,
            {"kind": "fragments", "note": note, "mtu": mtu, "fragments": [f.hex() for f in frags], "decoded": codec.decode_frame(frame)},
        )
    for name, notes, frames, dropped, note in _fragloss_vectors():
        blob = b"".join(notes)
        put(name, blob, {"kind": "fragloss", "note": note, "notifications": [x.hex() for x in notes],
                         "frames": [f.hex() for f in frames], "dropped": dropped})
    for name, frame, err in _bad():
        put(name, frame, {"kind": "bad", "error": err})
    check = b"123456789"
    put("crc_check", check, {"kind": "crc", "algorithm": "CRC-16/CCITT-FALSE", "poly": "0x1021", "init": "0xffff",
                             "refin": False, "refout": False, "xorout": "0x0000", "check": codec.crc16_py(check)})
    adv = gatt.advertising_payload(3, (0, 1, 0), 78)
    put("adv_node3", adv, {"kind": "adv", "node_id": 3, "firmware": [0, 1, 0], "battery_pct": 78,
                           "scan_response": gatt.scan_response_payload().hex(), "name": gatt.node_name(3),
                           "manufacturer": gatt.parse_manufacturer(gatt.parse_advertising(adv)[0xFF][2:])})
    files["index.json"] = _dump({"version": codec.VERSION, "vectors": index})
    return files


def _dump(obj):
    return (json.dumps(obj, indent=1, sort_keys=True, ensure_ascii=True) + "\n").encode()


def main(argv):
    files = build_vectors()
    if "--check" in argv:
        stale = [n for n, data in files.items() if not (VECTOR_DIR / n).is_file() or (VECTOR_DIR / n).read_bytes() != data]
        extra = sorted(p.name for p in VECTOR_DIR.iterdir() if p.name not in files)
        if stale or extra:
            print("vectors out of date: %s; stray files: %s; run python protocol/make_vectors.py" % (stale, extra))
            return 1
        print("%d vector files match the generator" % len(files))
        return 0
    VECTOR_DIR.mkdir(exist_ok=True)
    for p in VECTOR_DIR.iterdir():
        if p.name not in files and p.suffix in (".bin", ".json"):
            p.unlink()
    for n, data in files.items():
        (VECTOR_DIR / n).write_bytes(data)
    print("wrote %d files to %s" % (len(files), VECTOR_DIR.relative_to(HERE.parent)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
