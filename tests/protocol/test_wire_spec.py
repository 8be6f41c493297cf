"""SPEC.md quotes bytes and numbers; they must be the ones the codec produces."""

import re
from pathlib import Path

from myowire import codec, gatt

ROOT = Path(__file__).resolve().parents[2]
SPEC = (ROOT / "protocol" / "SPEC.md").read_text()
VEC = ROOT / "protocol" / "vectors"


def hex_stream(text):
    """Byte strings quoted in code blocks and inline code (runs of >= 2 hex pairs), joined in order."""
    parts = re.findall(r"```.*?```|`[^`\n]+`", text, flags=re.S)
    run = r"(?<![0-9a-zA-Z])[0-9a-f]{2}(?:(?: *\| *| +)[0-9a-f]{2}(?![0-9a-zA-Z]))+"
    return "".join(re.sub(r"[ |]", "", m) for p in parts for m in re.findall(run, p))


def test_worked_examples_are_the_vectors():
    examples = SPEC[SPEC.index("## 14. Worked examples") :]
    stream = hex_stream(examples)
    for name in ("emg_1ch_5", "cmd_sync", "sync_reply", "cmd_resend", "status_label", "foot_2"):
        assert (VEC / (name + ".bin")).read_bytes().hex() in stream, name + " bytes in SPEC.md differ from the vector"
    for prefix in ("ack_gone", "cmd_configure"):
        assert (VEC / (prefix + ".bin")).read_bytes().hex()[:40] in stream, prefix
    frag = codec.fragment((VEC / "frag_ack_mtu23.bin").read_bytes(), 20)
    assert "".join(f.hex() for f in frag) in stream


def test_advertising_bytes_in_spec():
    stream = hex_stream(SPEC[SPEC.index("## 3. Advertising") : SPEC.index("## 4. Frame format")])
    assert gatt.advertising_payload(3, (0, 1, 0), 78).hex() in stream
    assert gatt.scan_response_payload().hex() in stream


def test_efficiency_table_matches_codec():
    rows = re.findall(r"^\| \**(\d+)\** \| \**(\d+)\** \| \**(\d+)\** \| \**(\d+)\** \| \**(\d+)\** \| \**([\d.]+) %", SPEC, flags=re.M)
    assert len(rows) == 5
    for mtu, n, flen, k, air, eff in rows:
        mtu = int(mtu)
        assert int(n) == codec.emg_samples_for_mtu(mtu)
        assert int(flen) == codec.OVERHEAD + 2 * int(n)
        assert (int(k), int(air)) == codec.notifications_for(int(flen), mtu)
        assert float(eff) == round(100 * codec.emg_efficiency(mtu), 1)


def test_uuids_and_constants_in_spec():
    for u in (gatt.SERVICE_UUID, gatt.DATA_UUID, gatt.CONTROL_UUID, gatt.REPLY_UUID):
        assert u in SPEC
    assert "0x29B1" in SPEC and codec.crc16(b"123456789") == 0x29B1
    assert "%d bytes" % codec.MAX_FRAME in SPEC


def test_spec_internal_links_resolve():
    heads = {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in re.findall(r"^#+ (.+)$", SPEC, flags=re.M)}
    links = re.findall(r"\]\(#([^)]+)\)", SPEC)
    assert len(links) >= 14
    for a in links:
        assert a in heads, "SPEC.md links to missing section #" + a


def test_imu_frame_sizes_in_spec():
    assert "%d records at MTU 247, %d in" % (codec.emg_samples_for_mtu(247, 6), codec.emg_samples_for_mtu(23, 6)) in SPEC
