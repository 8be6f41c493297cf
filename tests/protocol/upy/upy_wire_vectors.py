"""Golden-vector checks that run unchanged under `micropython` and CPython.

Each vector in protocol/vectors/ is decoded, compared with its JSON, and
re-encoded byte for byte (fragments and fragment loss too; bad frames must
raise WireError with the expected message). tests/protocol/test_wire_vectors.py
runs these functions under CPython and test_wire_upy.py under micropython.
"""

import binascii
import json

from myowire import codec, gatt

_HERE = __file__.replace("\\", "/").rsplit("/", 1)[0]
VECTOR_DIR = _HERE + "/../../../protocol/vectors"


def _read(name, ext):
    with open(VECTOR_DIR + "/" + name + ext, "rb") as f:
        return f.read()


def load_index():
    return json.loads(_read("index", ".json"))["vectors"]


def load(name):
    return _read(name, ".bin"), json.loads(_read(name, ".json"))


def names(kind):
    return [v["name"] for v in load_index() if v["kind"] == kind]


def _unhex(s):
    return binascii.unhexlify(s)


def _same(a, b, where):
    if a != b:
        raise AssertionError("%s: %r != %r" % (where, a, b))


def check_frame_vector(name):
    frame, meta = load(name)
    got = codec.decode_frame(frame)
    _same(got, meta["decoded"], name + " decoded")
    _same(codec.encode_dict(meta["decoded"]), frame, name + " re-encoded")
    # The header-only validator agrees with the full decoder.
    ftype, node, enc, count, seq, t0 = codec.check_frame(memoryview(frame))
    _same(codec.TYPE_NAMES[ftype], meta["decoded"]["type"], name + " type")
    _same((node, count, seq, t0), (got["node_id"], got["count"], got["seq"], got["t0_us"]), name + " header")


def check_fragments_vector(name):
    frame, meta = load(name)
    want = [_unhex(h) for h in meta["fragments"]]
    mtu = meta["mtu"]
    got = codec.fragment(frame, mtu - 3)
    _same(got, want, name + " fragments")
    for f in got:
        if len(f) > mtu - 3:
            raise AssertionError("%s: fragment of %d bytes exceeds MTU-3" % (name, len(f)))
    r = codec.Reassembler()
    out = [r.feed(f) for f in got]
    _same(out[:-1], [None] * (len(got) - 1), name + " early frames")
    _same(out[-1], frame, name + " reassembled")
    _same(codec.decode_frame(out[-1]), meta["decoded"], name + " decoded")
    _same(r.dropped, 0, name + " dropped")


def check_fragloss_vector(name):
    blob, meta = load(name)
    notes = [_unhex(h) for h in meta["notifications"]]
    _same(b"".join(notes), blob, name + " blob")
    r = codec.Reassembler()
    frames = []
    for n in notes:
        f = r.feed(n)
        if f is not None:
            frames.append(f)
    _same(frames, [_unhex(h) for h in meta["frames"]], name + " frames")
    _same(r.dropped, meta["dropped"], name + " dropped")
    for f in frames:
        codec.check_frame(f)


def check_bad_vector(name):
    frame, meta = load(name)
    for decoder in (codec.check_frame, codec.decode_frame):
        try:
            decoder(frame)
        except codec.WireError as e:
            msg = str(e)
            if meta["error"] not in msg:
                raise AssertionError("%s: error %r lacks %r" % (name, msg, meta["error"]))
        else:
            raise AssertionError("%s: no WireError" % name)


def check_crc_vector(name):
    data, meta = load(name)
    _same(codec.crc16(data), meta["check"], name + " crc16")
    _same(codec.crc16_py(data), meta["check"], name + " crc16_py")
    # Incremental use gives the same value (the firmware seals in one pass, receivers may not).
    _same(codec.crc16(data[4:], codec.crc16(data[:4])), meta["check"], name + " incremental")


def check_adv_vector(name):
    adv, meta = load(name)
    _same(gatt.advertising_payload(meta["node_id"], meta["firmware"], meta["battery_pct"]), adv, name + " adv")
    _same(gatt.scan_response_payload(), _unhex(meta["scan_response"]), name + " scan response")
    if len(adv) > gatt.ADV_MAX or len(gatt.scan_response_payload()) > gatt.ADV_MAX:
        raise AssertionError(name + ": advertising data over 31 bytes")
    ads = gatt.parse_advertising(adv)
    _same(ads[0x09].decode(), meta["name"], name + " name")
    _same(gatt.parse_manufacturer(ads[0xFF][2:]), meta["manufacturer"], name + " manufacturer")


CHECKS = {
    "frame": check_frame_vector,
    "fragments": check_fragments_vector,
    "fragloss": check_fragloss_vector,
    "bad": check_bad_vector,
    "crc": check_crc_vector,
    "adv": check_adv_vector,
}


def _run_kind(kind):
    ns = names(kind)
    if not ns:
        raise AssertionError("no %s vectors found in %s" % (kind, VECTOR_DIR))
    for n in ns:
        CHECKS[kind](n)
    return len(ns)


def test_frames():
    _run_kind("frame")


def test_fragments():
    _run_kind("fragments")


def test_fragloss():
    _run_kind("fragloss")


def test_bad():
    _run_kind("bad")


def test_crc():
    _run_kind("crc")


def test_adv():
    _run_kind("adv")


def test_every_type_and_command_covered():
    types = {}
    ops = {}
    for n in names("frame") + names("fragments"):
        d = load(n)[1]["decoded"]
        types[d["type"]] = 1
        if d["type"] == "cmd":
            ops[d["opcode"]] = 1
    for t in codec.TYPE_NAMES.values():
        if t not in types:
            raise AssertionError("no vector for frame type " + t)
    for op in codec.COMMAND_NAMES:
        if op not in ops:
            raise AssertionError("no vector for command " + codec.COMMAND_NAMES[op])
