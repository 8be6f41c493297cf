"""The same vector checks and a crash fuzz, executed by the real `micropython` interpreter."""

from upyharness import run_upy_tests

PATH = ["protocol", "tests/protocol/upy"]


def test_vectors_under_micropython():
    out = run_upy_tests(["upy_wire_vectors"], path=PATH, label="protocol vectors")
    assert "PASS upy_wire_vectors.test_frames" in out and "PASS upy_wire_vectors.test_bad" in out


def test_bad_input_never_crashes_micropython():
    out = run_upy_tests(["upy_wire_fuzz"], path=PATH, label="protocol fuzz")
    assert "PASS upy_wire_fuzz.test_random_bytes_only_wire_error" in out


def test_codec_helpers_under_micropython():
    out = run_upy_tests(["upy_wire_units"], path=PATH, label="protocol helpers")
    assert "PASS upy_wire_units.test_fragment_index_wraps_past_255" in out
