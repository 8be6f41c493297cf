"""myostride wire codec: one file, run unchanged by the node (MicroPython) and
the host (CPython, as its reference decoder).

Frame layout (little-endian), see protocol/SPEC.md:

    off size field
    0   1    version << 4 | frame type
    1   1    node id
    2   1    encoding: bits 0-3 sample format, bits 4-7 channels - 1
    3   1    count: samples (per channel) or events in the payload
    4   4    seq: u32 sequence number
    8   8    t0_us: u64 microseconds on the sender's clock
    16  N    payload
    16+N 2   CRC-16/CCITT-FALSE over bytes 0 .. 16+N-1

Frames are 18-1024 bytes. check_frame applies every rule of SPEC.md
section 13 (a frame it accepts re-encodes to the same bytes); encoders refuse
out-of-range fields instead of letting MicroPython's struct truncate them.

Everything here avoids CPython-only features (no dataclasses, typing,
f-strings with format specs MicroPython lacks) so that `micropython` and
`mpy-cross` accept it byte for byte.
"""

import struct
import sys
from array import array

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


VERSION = const(1)

# Frame types (low nibble of byte 0).
T_EMG = const(1)
T_IMU = const(2)
T_FOOT = const(3)
T_STATUS = const(4)
T_SYNC = const(5)
T_ACK = const(6)
T_CMD = const(7)
TYPE_NAMES = {1: "emg", 2: "imu", 3: "foot", 4: "status", 5: "sync", 6: "ack", 7: "cmd"}

# Sample formats (bits 0-3 of the encoding byte).
FMT_I16 = const(0)

HEADER_SIZE = const(16)
CRC_SIZE = const(2)
OVERHEAD = const(18)
MAX_COUNT = const(255)
MAX_FRAME = const(1024)  # longest valid frame in bytes (header + payload + CRC)
MAX_CHANNELS = const(16)
BROADCAST = const(0xFF)

# Fixed payload element sizes.
IMU_SAMPLE_SIZE = const(12)  # ax ay az (mg), gx gy gz (0.1 deg/s), int16 each
FOOT_EVENT_SIZE = const(6)  # u32 offset_us from t0, u8 input, u8 level
SYNC_PAYLOAD_SIZE = const(24)  # u64 t1 (host send, echoed), u64 t2 (node rx), u64 t3 (node tx)
STATUS_FIXED_SIZE = const(26)  # then label bytes (label_len of them)
ACK_FIXED_SIZE = const(6)  # u8 opcode, u8 status, u32 value, then a UTF-8 message
MAX_LABEL = const(16)
MAX_MESSAGE = const(64)

# Commands (payload byte 0 of a T_CMD frame).
C_START = const(1)
C_STOP = const(2)
C_CONFIGURE = const(3)
C_SYNC = const(4)
C_RESEND = const(5)
C_STATUS = const(6)
C_IDENTIFY = const(7)
C_REBOOT = const(8)
COMMAND_NAMES = {
    1: "start",
    2: "stop",
    3: "configure",
    4: "sync",
    5: "resend",
    6: "status",
    7: "identify",
    8: "reboot",
}
# Argument bytes after the opcode; CONFIGURE has a variable label tail.
CONFIGURE_FIXED_SIZE = const(10)  # u16 emg_hz, u8 highpass_hz, u8 powerline_hz, u16 imu_hz, u8 node_id, u8 flags, u8 reserved, u8 label_len
_CMD_ARG_SIZES = {1: 0, 2: 0, 4: 0, 5: 8, 6: 0, 7: 1, 8: 0}
# C_CONFIGURE flags: 0 in a numeric field means "unchanged", so switching a
# feature off needs an explicit bit.
CFG_POWERLINE_OFF = const(0x01)  # turn powerline removal off (powerline_hz must be 0)
CFG_IMU_OFF = const(0x02)  # stop IMU sampling (imu_hz must be 0)
CFG_CLEAR_LABEL = const(0x04)  # set the label to "" (label_len must be 0)

# STATUS filter_flags: what the node's filter chain is doing now.
FF_HIGHPASS = const(0x01)  # high-pass on (highpass_hz gives the corner)
FF_POWERLINE = const(0x02)  # powerline removal on (powerline_hz gives the frequency)
FF_HIGHPASS_4TH = const(0x04)  # high-pass is 4th order (else 2nd)

# ACK status codes.
ACK_OK = const(0)
ACK_BAD_ARGS = const(1)
ACK_UNKNOWN = const(2)
ACK_BUSY = const(3)
ACK_GONE = const(4)  # resend range no longer held by the node
ACK_STATE = const(5)  # not allowed in the current state
ACK_NAMES = {0: "ok", 1: "bad_args", 2: "unknown_command", 3: "busy", 4: "gone", 5: "bad_state"}

# Status flags.
F_LEAD_OFF = const(0x01)
F_CLIPPING = const(0x02)
F_OVERRUN = const(0x04)
F_CONFIG_DEFAULTS = const(0x08)
F_IMU = const(0x10)
F_STREAMING = const(0x20)
F_LOW_BATTERY = const(0x40)
F_CONNECTED = const(0x80)
FLAG_NAMES = (
    (0x01, "lead_off"),
    (0x02, "clipping"),
    (0x04, "overrun"),
    (0x08, "config_defaults"),
    (0x10, "imu"),
    (0x20, "streaming"),
    (0x40, "low_battery"),
    (0x80, "connected"),
)
# Self-test bits in the status frame.
S_AFE = const(0x01)
S_IMU = const(0x02)
S_CLOCK = const(0x04)
S_STORAGE = const(0x08)

# Transport fragments: a notification whose first byte has high nibble 0xF
# carries part of a frame too long for the negotiated MTU.
FRAG_MARK = const(0xF0)
FRAG_FIRST = const(0x01)
FRAG_LAST = const(0x02)
FRAG_HEADER = const(2)  # marker byte, u8 fragment index

_HDR = "<BBBBIQ"
_STATUS = "<HBBBBBBHHBBHIIBB"  # 26 bytes incl. label_len; see SPEC.md
_ACK = "<BBI"
_SYNC = "<QQQ"


class WireError(ValueError):
    """Any malformed frame or command: the one error type decoders raise."""


# ---------------------------------------------------------------- CRC-16

def _make_table():
    t = array("H")
    for i in range(256):
        c = i << 8
        for _ in range(8):
            c = ((c << 1) ^ 0x1021) if c & 0x8000 else (c << 1)
        t.append(c & 0xFFFF)
    return t


# The one CRC-16 table (256 u16, native order so viper's ptr16 reads it): the codec,
# the firmware's packetizer and the host's bulk decoder all use this one.
CRC_TABLE = _make_table()


def crc16_py(data, crc=0xFFFF):
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF): reference implementation."""
    t = CRC_TABLE
    for b in data:
        crc = ((crc << 8) & 0xFFFF) ^ t[((crc >> 8) ^ b) & 0xFF]
    return crc


crc16 = crc16_py
if sys.implementation.name == "micropython":
    try:
        import micropython

        @micropython.viper
        def _crc16_viper(data, n: int, crc: int) -> int:
            p = ptr8(data)
            t = ptr16(CRC_TABLE)
            i = 0
            while i < n:
                crc = ((crc << 8) & 0xFFFF) ^ t[((crc >> 8) ^ p[i]) & 0xFF]
                i += 1
            return crc

        def crc16(data, crc=0xFFFF):
            return _crc16_viper(data, len(data), crc)

    except Exception:  # a port without viper keeps the reference version
        crc16 = crc16_py
else:
    try:
        from binascii import crc_hqx as _crc_hqx  # C implementation, same polynomial

        def crc16(data, crc=0xFFFF):
            return _crc_hqx(data, crc)

    except ImportError:
        pass


# ---------------------------------------------------------------- encoding

def pack_header_into(buf, ftype, node_id, encoding, count, seq, t0_us):
    """Write a 16-byte header at buf[0:16] (no allocation beyond struct's)."""
    struct.pack_into(_HDR, buf, 0, (VERSION << 4) | ftype, node_id, encoding, count, seq, t0_us)


def seal_into(buf, length):
    """Append the CRC over buf[0:length]; returns the total frame length."""
    c = crc16(memoryview(buf)[0:length])
    buf[length] = c & 0xFF
    buf[length + 1] = c >> 8
    return length + 2


def _check_field(name, value, top):
    if value < 0 or value > top:
        raise WireError("%s %d is outside 0-%d" % (name, value, top))


def encode_frame(ftype, node_id, seq, t0_us, payload, count=0, encoding=0):
    """A complete frame as bytes (allocates; the firmware's hot path uses pack_header_into).

    Out-of-range fields raise WireError: MicroPython's struct would otherwise
    truncate them silently and the frame would carry a different value.
    """
    n = len(payload)
    _check_field("node id", node_id, 0xFF)
    _check_field("count", count, MAX_COUNT)
    _check_field("encoding", encoding, 0xFF)
    _check_field("seq", seq, 0xFFFFFFFF)
    _check_field("t0_us", t0_us, 0xFFFFFFFFFFFFFFFF)
    if n + OVERHEAD > MAX_FRAME:
        raise WireError("frame of %d bytes exceeds the %d-byte maximum" % (n + OVERHEAD, MAX_FRAME))
    buf = bytearray(HEADER_SIZE + n + CRC_SIZE)
    pack_header_into(buf, ftype, node_id, encoding, count, seq, t0_us)
    buf[HEADER_SIZE : HEADER_SIZE + n] = payload
    seal_into(buf, HEADER_SIZE + n)
    return bytes(buf)


def emg_samples_per_frame(payload_max, channels=1):
    """EMG samples (per channel) that fit in one frame of at most payload_max bytes."""
    n = (payload_max - OVERHEAD) // (2 * channels)
    if n > MAX_COUNT:
        n = MAX_COUNT
    return n if n > 0 else 0


FRAG_TARGET = const(256)  # largest frame built on purpose to be sent as fragments


def emg_samples_for_mtu(mtu, channels=1):
    """EMG samples (per channel) per frame a node uses at a negotiated ATT MTU.

    Notifications carry mtu-3 bytes. A frame that fills one notification is
    used (113 samples at MTU 247) unless a frame of up to FRAG_TARGET bytes
    cut into whole fragments carries a larger share of sample bytes: at
    MTU 23 one frame per notification would hold 1 sample, fragments give 117.
    """
    room = mtu - 3
    step = room - FRAG_HEADER
    if step < 1:
        raise WireError("MTU %d is too small to carry fragments" % mtu)
    whole = emg_samples_per_frame(room, channels)
    frame_max = (FRAG_TARGET // step) * step
    if frame_max <= room:  # fragments cannot do better than one notification
        return whole
    split = emg_samples_per_frame(frame_max, channels)
    # Compare sample bytes per air byte exactly (cross-multiplied, integers only).
    air_whole = OVERHEAD + 2 * channels * whole
    air_split = notifications_for(OVERHEAD + 2 * channels * split, mtu)[1]
    if whole * air_split >= split * air_whole:
        return whole
    return split


def notifications_for(frame_len, mtu):
    """(notifications, bytes) on the air for one frame of frame_len bytes at an MTU."""
    room = mtu - 3
    if frame_len <= room:
        return 1, frame_len
    step = room - FRAG_HEADER
    k = (frame_len + step - 1) // step
    return k, frame_len + k * FRAG_HEADER


def emg_efficiency(mtu, channels=1):
    """Share of notification bytes that are EMG sample bytes at an MTU (0..1)."""
    count = emg_samples_for_mtu(mtu, channels)
    sample_bytes = 2 * count * channels
    _, air = notifications_for(OVERHEAD + sample_bytes, mtu)
    return sample_bytes / air


def encode_emg(node_id, seq, t0_us, samples, channels=1):
    """samples: sequence of int16, interleaved by channel."""
    if channels < 1 or channels > MAX_CHANNELS:
        raise WireError("channels must be 1-16, got %d" % channels)
    if len(samples) % channels:
        raise WireError("%d samples do not split into %d channels" % (len(samples), channels))
    count = len(samples) // channels
    if count < 1:
        raise WireError("an EMG frame needs at least one sample")
    for v in samples:
        if v < -32768 or v > 32767:
            raise WireError("EMG sample %d is outside int16" % v)
    payload = struct.pack("<%dh" % len(samples), *samples)
    return encode_frame(T_EMG, node_id, seq, t0_us, payload, count, ((channels - 1) << 4) | FMT_I16)


def encode_imu(node_id, seq, t0_us, samples):
    """samples: sequence of (ax, ay, az, gx, gy, gz) int16 tuples (mg, 0.1 deg/s)."""
    flat = []
    for s in samples:
        if len(s) != 6:
            raise WireError("an IMU sample has 6 values (ax ay az gx gy gz), got %d" % len(s))
        flat.extend(s)
    if not flat:
        raise WireError("an IMU frame needs at least one sample")
    for v in flat:
        if v < -32768 or v > 32767:
            raise WireError("IMU value %d is outside int16" % v)
    payload = struct.pack("<%dh" % len(flat), *flat)
    return encode_frame(T_IMU, node_id, seq, t0_us, payload, len(samples), (5 << 4) | FMT_I16)


def encode_foot(node_id, seq, t0_us, events):
    """events: sequence of (offset_us, input, level)."""
    if not events:
        raise WireError("a footswitch frame needs at least one event")
    payload = bytearray(FOOT_EVENT_SIZE * len(events))
    for i, (off, inp, lvl) in enumerate(events):
        _check_field("event offset_us", off, 0xFFFFFFFF)
        _check_field("footswitch input", inp, 0xFF)
        _check_field("footswitch level", lvl, 0xFF)
        struct.pack_into("<IBB", payload, i * FOOT_EVENT_SIZE, off, inp, lvl)
    return encode_frame(T_FOOT, node_id, seq, t0_us, payload, len(events))


def encode_status(node_id, seq, t0_us, st):
    """st: dict with the keys decode_status returns (see SPEC.md)."""
    label = st.get("label", "").encode()
    if len(label) > MAX_LABEL:
        raise WireError("label longer than %d bytes" % MAX_LABEL)
    fw = st.get("firmware", (0, 0, 0))
    if len(fw) != 3:
        raise WireError("firmware version needs 3 numbers, got %d" % len(fw))
    for name, top in _STATUS_RANGES:
        _check_field(name, st.get(name, 0), top)
    for v in fw:
        _check_field("firmware version part", v, 0xFF)
    payload = bytearray(STATUS_FIXED_SIZE + len(label))
    struct.pack_into(
        _STATUS,
        payload,
        0,
        st.get("battery_mv", 0),
        st.get("battery_pct", 0),
        st.get("flags", 0),
        fw[0],
        fw[1],
        fw[2],
        st.get("selftest", 0),
        st.get("emg_hz", 0),
        st.get("imu_hz", 0),
        st.get("highpass_hz", 0),
        st.get("powerline_hz", 0),
        st.get("nv_per_lsb", 0),
        st.get("overrun_samples", 0),
        st.get("oldest_seq", 0),
        st.get("filter_flags", 0),
        len(label),
    )
    payload[STATUS_FIXED_SIZE:] = label
    return encode_frame(T_STATUS, node_id, seq, t0_us, payload)


_STATUS_RANGES = (
    ("battery_mv", 0xFFFF),
    ("battery_pct", 100),
    ("flags", 0xFF),
    ("selftest", 0xFF),
    ("emg_hz", 0xFFFF),
    ("imu_hz", 0xFFFF),
    ("highpass_hz", 0xFF),
    ("powerline_hz", 0xFF),
    ("nv_per_lsb", 0xFFFF),
    ("overrun_samples", 0xFFFFFFFF),
    ("oldest_seq", 0xFFFFFFFF),
    ("filter_flags", 0xFF),
)


def _utf8_prefix(text, limit):
    """text encoded as UTF-8, cut to at most limit bytes without splitting a character."""
    b = text.encode()
    if len(b) <= limit:
        return b
    end = limit
    while end > 0 and (b[end] & 0xC0) == 0x80:  # b[end] continues a character: back off
        end -= 1
    return b[:end]


def encode_sync_reply(node_id, cmd_id, t1_us, t2_us, t3_us):
    payload = struct.pack(_SYNC, t1_us, t2_us, t3_us)
    return encode_frame(T_SYNC, node_id, cmd_id, t3_us, payload)


def encode_ack(node_id, cmd_id, t0_us, opcode, status, value=0, message=""):
    msg = _utf8_prefix(message, MAX_MESSAGE)
    _check_field("opcode", opcode, 0xFF)
    _check_field("ack status", status, 0xFF)
    _check_field("ack value", value, 0xFFFFFFFF)
    payload = struct.pack(_ACK, opcode, status, value) + msg
    return encode_frame(T_ACK, node_id, cmd_id, t0_us, payload)


def encode_command(node_id, cmd_id, host_us, opcode, args=b""):
    _check_field("opcode", opcode, 0xFF)
    payload = bytes([opcode]) + bytes(args)
    return encode_frame(T_CMD, node_id, cmd_id, host_us, payload)


def configure_args(emg_hz, highpass_hz, powerline_hz, imu_hz, label="", new_node_id=0, flags=0):
    """Argument bytes of C_CONFIGURE; 0 in a numeric field means 'leave unchanged'."""
    lab = label.encode()
    if len(lab) > MAX_LABEL:
        raise WireError("label longer than %d bytes" % MAX_LABEL)
    _check_field("emg_hz", emg_hz, 0xFFFF)
    _check_field("highpass_hz", highpass_hz, 0xFF)
    _check_field("powerline_hz", powerline_hz, 0xFF)
    _check_field("imu_hz", imu_hz, 0xFFFF)
    _check_field("new node id", new_node_id, 0xFF)
    _check_field("configure flags", flags, 0xFF)
    return struct.pack("<HBBHBBBB", emg_hz, highpass_hz, powerline_hz, imu_hz, new_node_id, flags, 0, len(lab)) + lab


def resend_args(first_seq, last_seq):
    """Argument bytes of C_RESEND: the inclusive range first_seq..last_seq."""
    _check_field("first_seq", first_seq, 0xFFFFFFFF)
    _check_field("last_seq", last_seq, 0xFFFFFFFF)
    return struct.pack("<II", first_seq, last_seq)


def encode_dict(d):
    """Re-encode a dict as decode_frame returns it (used for byte-exact round trips)."""
    t = d["type"]
    node = d["node_id"]
    seq = d["seq"]
    t0 = d["t0_us"]
    if t == "emg":
        return encode_emg(node, seq, t0, d["samples"], d.get("channels", 1))
    if t == "imu":
        return encode_imu(node, seq, t0, d["samples"])
    if t == "foot":
        return encode_foot(node, seq, t0, d["events"])
    if t == "status":
        return encode_status(node, seq, t0, d)
    if t == "sync":
        if d["t3_us"] != t0:
            raise WireError("a time-sync reply's t0_us is its t3_us")
        return encode_sync_reply(node, seq, d["t1_us"], d["t2_us"], d["t3_us"])
    if t == "ack":
        return encode_ack(node, seq, t0, d["opcode"], d["status"], d["value"], d["message"])
    if t == "cmd":
        op = d["opcode"]
        if op == C_CONFIGURE:
            args = configure_args(
                d["emg_hz"], d["highpass_hz"], d["powerline_hz"], d["imu_hz"], d["label"], d["new_node_id"], d["flags"]
            )
        elif op == C_RESEND:
            args = resend_args(d["first_seq"], d["last_seq"])
        elif op == C_IDENTIFY:
            args = bytes([d["seconds"]])
        else:
            args = b""
        return encode_command(node, seq, t0, op, args)
    raise WireError("unknown frame type %r" % (t,))


def seq_diff(a, b):
    """a - b for u32 sequence numbers in serial-number arithmetic: -2^31 .. 2^31-1.

    Positive when a comes after b, also across the wrap from 0xFFFFFFFF to 0.
    """
    d = (a - b) & 0xFFFFFFFF
    return d - 0x100000000 if d & 0x80000000 else d


# ---------------------------------------------------------------- decoding

def header_fields(frame):
    """(ftype, node_id, encoding, count, seq, t0_us) of a frame check_frame already
    accepted (no checks here: the hot path of decoders reading stored frames)."""
    vt, node_id, enc, count, seq, t0 = struct.unpack_from(_HDR, frame, 0)
    return vt & 0x0F, node_id, enc, count, seq, t0


def check_frame(frame):
    """Validate framing and CRC; returns (ftype, node_id, encoding, count, seq, t0_us).

    Raises WireError naming the problem for truncated frames, wrong CRC,
    unknown version or type, and payload lengths that do not match the header.
    """
    n = len(frame)
    if n < OVERHEAD:
        raise WireError("truncated frame: %d bytes, a frame has at least %d" % (n, OVERHEAD))
    if n > MAX_FRAME:
        raise WireError("frame of %d bytes exceeds the %d-byte maximum" % (n, MAX_FRAME))
    vt, node_id, enc, count, seq, t0 = struct.unpack_from(_HDR, frame, 0)
    ver = vt >> 4
    ftype = vt & 0x0F
    if ver != VERSION:
        raise WireError("unknown protocol version %d (this codec speaks %d)" % (ver, VERSION))
    if ftype not in TYPE_NAMES:
        raise WireError("unknown frame type %d" % ftype)
    got = frame[n - 2] | (frame[n - 1] << 8)
    want = crc16(memoryview(frame)[0 : n - 2])
    if got != want:
        raise WireError("CRC mismatch: frame says 0x%04x, computed 0x%04x" % (got, want))
    plen = n - OVERHEAD
    if ftype == T_EMG or ftype == T_IMU:
        if enc & 0x0F != FMT_I16:
            raise WireError("unknown sample format %d" % (enc & 0x0F))
        ch = (enc >> 4) + 1
        want_len = count * ch * 2
        if ftype == T_IMU and ch != 6:
            raise WireError("IMU frame must carry 6 axes, header says %d" % ch)
        if count == 0:
            raise WireError("absurd sample count: a sample frame with zero samples")
        if plen != want_len:
            raise WireError(
                "length mismatch: %d samples x %d channels need %d payload bytes, frame has %d"
                % (count, ch, want_len, plen)
            )
    elif ftype == T_FOOT:
        if count == 0:
            raise WireError("absurd event count: a footswitch frame with zero events")
        if plen != count * FOOT_EVENT_SIZE:
            raise WireError("length mismatch: %d events need %d bytes, frame has %d" % (count, count * FOOT_EVENT_SIZE, plen))
    elif count != 0:
        raise WireError("absurd count %d: a %s frame has count 0" % (count, TYPE_NAMES[ftype]))
    if ftype != T_EMG and ftype != T_IMU and enc != 0:
        raise WireError("encoding byte 0x%02x in a %s frame must be 0" % (enc, TYPE_NAMES[ftype]))
    if ftype == T_STATUS:
        if plen < STATUS_FIXED_SIZE:
            raise WireError("status payload too short: %d bytes" % plen)
        lab = frame[HEADER_SIZE + STATUS_FIXED_SIZE - 1]
        if lab > MAX_LABEL or plen != STATUS_FIXED_SIZE + lab:
            raise WireError("status label length %d does not match payload of %d bytes" % (lab, plen))
        _check_text(frame, HEADER_SIZE + STATUS_FIXED_SIZE, n - CRC_SIZE, "status label")
    elif ftype == T_SYNC:
        if plen != SYNC_PAYLOAD_SIZE:
            raise WireError("time-sync reply must have %d payload bytes, has %d" % (SYNC_PAYLOAD_SIZE, plen))
        t3 = struct.unpack_from("<Q", frame, HEADER_SIZE + 16)[0]
        if t3 != t0:
            raise WireError("time-sync reply header t0_us %d differs from its t3_us %d" % (t0, t3))
    elif ftype == T_ACK:
        if plen < ACK_FIXED_SIZE or plen > ACK_FIXED_SIZE + MAX_MESSAGE:
            raise WireError("ack payload of %d bytes is outside %d-%d" % (plen, ACK_FIXED_SIZE, ACK_FIXED_SIZE + MAX_MESSAGE))
        _check_text(frame, HEADER_SIZE + ACK_FIXED_SIZE, n - CRC_SIZE, "ack message")
    elif ftype == T_CMD:
        _check_command_payload(frame, plen)
    return ftype, node_id, enc, count, seq, t0


def utf8_valid(buf, start, end):
    """True if buf[start:end] is well-formed UTF-8 (RFC 3629: no overlongs,
    surrogates or code points above U+10FFFF). Written out because
    MicroPython's bytes.decode accepts some of those and CPython does not."""
    i = start
    while i < end:
        b = buf[i]
        if b < 0x80:
            i += 1
            continue
        if 0xC2 <= b <= 0xDF:
            n, lo, hi = 1, 0x80, 0xBF
        elif 0xE0 <= b <= 0xEF:
            n = 2
            lo = 0xA0 if b == 0xE0 else 0x80
            hi = 0x9F if b == 0xED else 0xBF
        elif 0xF0 <= b <= 0xF4:
            n = 3
            lo = 0x90 if b == 0xF0 else 0x80
            hi = 0x8F if b == 0xF4 else 0xBF
        else:
            return False
        if i + n >= end:  # sequence runs past the field
            return False
        c = buf[i + 1]
        if c < lo or c > hi:
            return False
        for k in range(i + 2, i + 1 + n):
            if buf[k] & 0xC0 != 0x80:
                return False
        i += 1 + n
    return True


def _check_text(frame, start, end, what):
    if not utf8_valid(frame, start, end):
        raise WireError("%s is not valid UTF-8" % what)


def _check_command_payload(frame, plen):
    if plen < 1:
        raise WireError("command frame without an opcode")
    op = frame[HEADER_SIZE]
    if op == C_CONFIGURE:
        if plen < 1 + CONFIGURE_FIXED_SIZE:
            raise WireError("configure needs %d argument bytes, got %d" % (CONFIGURE_FIXED_SIZE, plen - 1))
        if frame[HEADER_SIZE + CONFIGURE_FIXED_SIZE - 1]:
            raise WireError("configure reserved byte must be 0")
        lab = frame[HEADER_SIZE + CONFIGURE_FIXED_SIZE]
        if lab > MAX_LABEL or plen != 1 + CONFIGURE_FIXED_SIZE + lab:
            raise WireError("configure label length %d does not match %d argument bytes" % (lab, plen - 1))
        _check_text(frame, HEADER_SIZE + 1 + CONFIGURE_FIXED_SIZE, HEADER_SIZE + plen, "configure label")
        return
    want = _CMD_ARG_SIZES.get(op)
    if want is None:
        raise WireError("unknown command opcode %d" % op)
    if plen - 1 != want:
        raise WireError("command %s needs %d argument bytes, got %d" % (COMMAND_NAMES[op], want, plen - 1))


def decode_frame(frame):
    """Decode one frame into a dict (allocates: the host's reference decoder)."""
    ftype, node_id, enc, count, seq, t0 = check_frame(frame)
    out = {"type": TYPE_NAMES[ftype], "node_id": node_id, "seq": seq, "t0_us": t0, "count": count}
    p = HEADER_SIZE
    if ftype == T_EMG:
        ch = (enc >> 4) + 1
        out["channels"] = ch
        out["samples"] = list(struct.unpack_from("<%dh" % (count * ch), frame, p))
    elif ftype == T_IMU:
        flat = struct.unpack_from("<%dh" % (count * 6), frame, p)
        out["samples"] = [list(flat[i * 6 : i * 6 + 6]) for i in range(count)]
    elif ftype == T_FOOT:
        ev = []
        for i in range(count):
            ev.append(list(struct.unpack_from("<IBB", frame, p + i * FOOT_EVENT_SIZE)))
        out["events"] = ev
    elif ftype == T_STATUS:
        out.update(decode_status_payload(frame, p))
    elif ftype == T_SYNC:
        t1, t2, t3 = struct.unpack_from(_SYNC, frame, p)
        out["t1_us"] = t1
        out["t2_us"] = t2
        out["t3_us"] = t3
    elif ftype == T_ACK:
        op, status, value = struct.unpack_from(_ACK, frame, p)
        out["opcode"] = op
        out["status"] = status
        out["value"] = value
        try:
            out["message"] = bytes(frame[p + ACK_FIXED_SIZE : len(frame) - CRC_SIZE]).decode()
        except Exception:
            raise WireError("ack message is not valid UTF-8")
    elif ftype == T_CMD:
        out.update(decode_command_payload(frame, p, len(frame) - CRC_SIZE))
    return out


def decode_status_payload(frame, p):
    v = struct.unpack_from(_STATUS, frame, p)
    lab = bytes(frame[p + STATUS_FIXED_SIZE : p + STATUS_FIXED_SIZE + v[15]])
    try:
        label = lab.decode()
    except Exception:
        raise WireError("status label is not valid UTF-8")
    return {
        "battery_mv": v[0],
        "battery_pct": v[1],
        "flags": v[2],
        "firmware": [v[3], v[4], v[5]],
        "selftest": v[6],
        "emg_hz": v[7],
        "imu_hz": v[8],
        "highpass_hz": v[9],
        "powerline_hz": v[10],
        "nv_per_lsb": v[11],
        "overrun_samples": v[12],
        "oldest_seq": v[13],
        "filter_flags": v[14],
        "label": label,
    }


def decode_command_payload(frame, p, end):
    op = frame[p]
    out = {"opcode": op, "command": COMMAND_NAMES.get(op, "unknown")}
    a = p + 1
    if op == C_CONFIGURE:
        emg, hp, pl, imu, nid, flags, _r, lab = struct.unpack_from("<HBBHBBBB", frame, a)
        try:
            label = bytes(frame[a + CONFIGURE_FIXED_SIZE : a + CONFIGURE_FIXED_SIZE + lab]).decode()
        except Exception:
            raise WireError("configure label is not valid UTF-8")
        out.update(
            {"emg_hz": emg, "highpass_hz": hp, "powerline_hz": pl, "imu_hz": imu, "new_node_id": nid, "flags": flags, "label": label}
        )
    elif op == C_RESEND:
        first, last = struct.unpack_from("<II", frame, a)
        out["first_seq"] = first
        out["last_seq"] = last
    elif op == C_IDENTIFY:
        out["seconds"] = frame[a]
    return out


# ---------------------------------------------------------------- fragments

def fragment(frame, payload_max):
    """Split a frame into notifications of at most payload_max bytes.

    A frame that fits is returned whole (one item); otherwise each piece
    carries a 2-byte fragment header: 0xF0 | FIRST/LAST flags, u8 index.
    """
    n = len(frame)
    if n <= payload_max:
        return [frame]
    step = payload_max - FRAG_HEADER
    if step < 1:
        raise WireError("MTU too small to carry fragments")
    out = []
    i = 0
    idx = 0
    while i < n:
        flags = FRAG_MARK
        if i == 0:
            flags |= FRAG_FIRST
        if i + step >= n:
            flags |= FRAG_LAST
        out.append(bytes([flags, idx & 0xFF]) + bytes(frame[i : i + step]))
        i += step
        idx += 1
    return out


class Reassembler:
    """Rebuilds frames from notifications; drops a frame if a fragment is missing."""

    def __init__(self, max_frame=MAX_FRAME):
        self.buf = bytearray()
        self.expect = -1  # next fragment index, -1 when not inside a frame
        self.max_frame = max_frame
        self.dropped = 0

    def feed(self, note):
        """Returns a complete frame (bytes) or None."""
        if len(note) == 0:
            return None
        b0 = note[0]
        if b0 & 0xF0 != FRAG_MARK:
            if self.expect >= 0:
                self.dropped += 1
                self.expect = -1
            return bytes(note)
        if len(note) < FRAG_HEADER:
            self.dropped += 1
            self.expect = -1
            return None
        idx = note[1]
        if b0 & FRAG_FIRST:
            if self.expect >= 0:
                self.dropped += 1
            self.buf = bytearray(note[FRAG_HEADER:])
            self.expect = 1
        elif self.expect < 0 or idx != (self.expect & 0xFF):
            if self.expect >= 0:
                self.dropped += 1
            self.expect = -1
            return None
        else:
            self.buf.extend(note[FRAG_HEADER:])
            self.expect += 1
        if len(self.buf) > self.max_frame:
            self.dropped += 1
            self.expect = -1
            return None
        if b0 & FRAG_LAST:
            self.expect = -1
            return bytes(self.buf)
        return None
