"""The C implementation in protocol/c/ (written from SPEC.md) agrees with the
Python codec on every golden vector and on thousands of mutated frames.

Skipped, saying why, on a machine without a C compiler.
"""

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "upy"))

import upy_wire_vectors as vec  # noqa: E402
from myowire import codec  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CDIR = ROOT / "protocol" / "c"
VEC = ROOT / "protocol" / "vectors"


@pytest.fixture(scope="module")
def mwtool(tmp_path_factory):
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        pytest.skip("no C compiler on this machine: the C implementation is not checked")
    exe = tmp_path_factory.mktemp("mwtool") / "mwtool"
    cmd = [cc, "-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-O2", "-o", str(exe),
           str(CDIR / "mwtool.c"), str(CDIR / "myowire.c")]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, "C implementation does not compile:\n" + proc.stderr

    def run(*args, stdin=None):
        p = subprocess.run([str(exe)] + [str(a) for a in args], input=stdin, capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        return p.stdout

    return run


_CLASSES = (
    ("truncated", "truncated"), ("exceeds the", "oversize"), ("unknown protocol version", "version"),
    ("unknown frame type", "type"), ("CRC mismatch", "crc"), ("unknown sample format", "format"),
    ("IMU frame must carry", "format"), ("absurd", "count"), ("encoding byte", "encoding"),
    ("differs from its t3_us", "sync_t3"), ("unknown command opcode", "opcode"), ("reserved byte", "reserved"),
    ("not valid UTF-8", "text"), ("length", "length"), ("too short", "length"), ("must have", "length"),
    ("ack payload", "length"), ("without an opcode", "length"), ("argument bytes", "length"),
)


def error_class(message):
    """The C error name for a Python WireError message."""
    for needle, name in _CLASSES:
        if needle in message:
            return name
    raise AssertionError("no class for " + message)


def python_verdict(frame):
    try:
        return {"ok": True, "decoded": codec.decode_frame(frame)}
    except codec.WireError as e:
        return {"ok": False, "error": error_class(str(e))}


@pytest.mark.parametrize("kind", ["frame", "fragments", "bad"])
def test_c_decodes_every_vector(mwtool, kind):
    names = vec.names(kind)
    for name in names:
        frame, meta = vec.load(name)
        got = json.loads(mwtool("decode", VEC / (name + ".bin")))
        if kind == "bad":
            assert got == {"ok": False, "error": error_class(meta["error"])}, name
        else:
            assert got == {"ok": True, "decoded": meta["decoded"]}, name


def test_c_fragments_and_reassembly(mwtool):
    for name in vec.names("fragments"):
        _, meta = vec.load(name)
        assert mwtool("fragment", VEC / (name + ".bin"), meta["mtu"]).split() == meta["fragments"], name
    for name in vec.names("fragloss"):
        _, meta = vec.load(name)
        out = mwtool("reasm", stdin="\n".join(meta["notifications"]) + "\n").split("\n")
        assert out[-2] == "dropped %d" % meta["dropped"], name
        assert out[:-2] == meta["frames"], name


def test_c_crc_and_encoders(mwtool):
    _, meta = vec.load("crc_check")
    assert int(mwtool("crc", VEC / "crc_check.bin")) == meta["check"] == 0x29B1
    for name in vec.names("frame"):
        frame, meta = vec.load(name)
        d = meta["decoded"]
        if d["type"] == "emg":
            hexed = mwtool("emg", d["node_id"], d["seq"], d["t0_us"], d["channels"], *d["samples"]).strip()
            assert hexed == frame.hex(), name
        elif d["type"] == "sync":
            hexed = mwtool("sync", d["node_id"], d["seq"], d["t1_us"], d["t2_us"], d["t3_us"]).strip()
            assert hexed == frame.hex(), name


def test_c_and_python_agree_on_mutated_frames(mwtool):
    rnd = random.Random(2024)
    valid = [vec.load(n)[0] for n in vec.names("frame")]
    cases = []
    for i in range(3000):
        f = bytearray(rnd.choice(valid))
        how = i % 5
        if how == 0:
            f[rnd.randrange(len(f))] ^= 1 << rnd.randrange(8)
        elif how == 1:
            f = f[: rnd.randrange(len(f))]
        elif how == 2:
            f += bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 6)))
        elif how == 3:
            f[rnd.randrange(min(len(f), 16))] = rnd.randrange(256)
        else:
            f[16 + rnd.randrange(max(1, len(f) - 18))] = rnd.randrange(256)
        if i % 2 and len(f) >= 2:  # reseal so the rules behind the CRC are reached
            c = codec.crc16(bytes(f[:-2]))
            f[-2], f[-1] = c & 0xFF, c >> 8
        cases.append(bytes(f))
    for i in range(1000):  # random bytes behind a plausible first byte, half with a valid CRC
        f = bytearray([0x10 | rnd.randrange(9)]) + bytes(rnd.randrange(256) for _ in range(rnd.randint(0, 60)))
        if i % 2 and len(f) >= 2:
            c = codec.crc16(bytes(f[:-2]))
            f[-2], f[-1] = c & 0xFF, c >> 8
        cases.append(bytes(f))
    out = mwtool("decodes", stdin="\n".join(c.hex() for c in cases) + "\n").splitlines()
    assert len(out) == len(cases)
    accepted = 0
    for frame, line in zip(cases, out):
        want = python_verdict(frame)
        assert json.loads(line) == want, frame.hex()
        accepted += want["ok"]
    assert 0 < accepted < len(cases)
