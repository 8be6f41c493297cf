"""The same vector checks and a crash fuzz, executed by the real `micropython` interpreter."""

from upyharness import run_upy_tests

PATH = ["protocol", "tests/protocol/upy"]


def test_vectors_under_micropython():
    out = run_upy_tests(["upy_wire_vectors"], path=PATH, label="protocol vectors")
    assert "PASS upy_wire_vectors.test_frames" in out and "PASS upy_wire_vectors.test_bad" in out


def test_bad_input_never_crashes_micropython():
    # A bounded heap (the codec itself takes ~25 KB on the 64-bit unix port) shows that
    # rejecting bad input needs no unbounded allocation.
    out = run_upy_tests(["upy_wire_fuzz"], path=PATH, heapsize="160k", label="protocol fuzz (160k heap)")
    assert "PASS upy_wire_fuzz.test_random_bytes_only_wire_error" in out
    assert "PASS upy_wire_fuzz.test_bad_input_does_not_grow_the_heap" in out


def test_codec_helpers_under_micropython():
    out = run_upy_tests(["upy_wire_units"], path=PATH, label="protocol helpers")
    assert "PASS upy_wire_units.test_fragment_index_wraps_past_255" in out
