"""Golden vectors under CPython: the committed files match the generator, and
every vector decodes, re-encodes and fails exactly as its JSON says."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent / "upy"))
sys.path.insert(0, str(ROOT / "protocol"))

import make_vectors  # noqa: E402
import upy_wire_vectors as vec  # noqa: E402
from myowire import codec  # noqa: E402


def test_committed_vectors_match_generator():
    files = make_vectors.build_vectors()
    on_disk = {p.name for p in make_vectors.VECTOR_DIR.iterdir()}
    assert on_disk == set(files), "stray or missing vector files; run python protocol/make_vectors.py"
    for name, data in files.items():
        assert (make_vectors.VECTOR_DIR / name).read_bytes() == data, name + " differs; run python protocol/make_vectors.py"


def test_generator_is_deterministic():
    assert make_vectors.build_vectors() == make_vectors.build_vectors()


@pytest.mark.parametrize("entry", vec.load_index(), ids=lambda e: e["name"])
def test_vector(entry):
    vec.CHECKS[entry["kind"]](entry["name"])


def test_every_type_and_command_covered():
    vec.test_every_type_and_command_covered()


def test_vector_checks_can_fail(tmp_path, monkeypatch):
    """A vector whose bytes were altered must be caught (the checks are not vacuous)."""
    for name in ("emg_1ch_5", "frag_emg_mtu23", "fragloss_middle", "bad_crc", "crc_check", "adv_node3"):
        (tmp_path / (name + ".json")).write_bytes((make_vectors.VECTOR_DIR / (name + ".json")).read_bytes())
        data = bytearray((make_vectors.VECTOR_DIR / (name + ".bin")).read_bytes())
        if name == "bad_crc":
            data = bytearray(codec.encode_emg(3, 42, 1_000_000, [0, 1, -1, 32767, -32768]))  # a valid frame
        else:
            data[len(data) // 2] ^= 0x01
        (tmp_path / (name + ".bin")).write_bytes(bytes(data))
    monkeypatch.setattr(vec, "VECTOR_DIR", str(tmp_path))
    for name, kind in (("emg_1ch_5", "frame"), ("frag_emg_mtu23", "fragments"), ("fragloss_middle", "fragloss"),
                       ("bad_crc", "bad"), ("crc_check", "crc"), ("adv_node3", "adv")):
        with pytest.raises((AssertionError, codec.WireError)):
            vec.CHECKS[kind](name)


def test_efficiency_numbers_in_spec():
    """The packetisation numbers SPEC.md states."""
    assert codec.emg_samples_for_mtu(247) == 113
    assert round(codec.emg_efficiency(247) * 100, 1) == 92.6
    assert codec.emg_samples_for_mtu(23) == 117
    assert codec.notifications_for(18 + 2 * 117, 23) == (14, 280)
    for mtu in range(23, 518):
        n = codec.emg_samples_for_mtu(mtu)
        frame_len = codec.OVERHEAD + 2 * n
        assert 1 <= n <= codec.MAX_COUNT and frame_len <= codec.MAX_FRAME
        for piece in codec.fragment(codec.encode_emg(1, 0, 0, [0] * n), mtu - 3):
            assert len(piece) <= mtu - 3


def test_codec_helpers_under_cpython():
    import upy_wire_units

    for name in sorted(dir(upy_wire_units)):
        if name.startswith("test_"):
            getattr(upy_wire_units, name)()
