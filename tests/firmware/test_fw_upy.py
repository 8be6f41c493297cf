"""Run the firmware's MicroPython unit tests under the real `micropython` interpreter."""

import pytest

from upyharness import ROOT, run_upy_tests

PATH = ["tests/firmware/upy", "tests/firmware/upy/fake_ble", "firmware", "protocol"]


@pytest.fixture(autouse=True)
def _tmp_for_upy(tmp_path, monkeypatch):
    monkeypatch.setenv("MYOSTRIDE_TEST_TMP", str(tmp_path))
    monkeypatch.setenv("MYOSTRIDE_REPO", str(ROOT))
    monkeypatch.delenv("MYOSTRIDE_SIM_NODE", raising=False)


@pytest.mark.parametrize(
    "module",
    ["fwt_ring", "fwt_clock", "fwt_framestore", "fwt_packetizer", "fwt_config", "fwt_commands", "fwt_radio",
     "fwt_frame_schedule", "fwt_node_idle"],
)
def test_firmware_module_under_micropython(module):
    # several nodes (each with ~100 kB of frame store) live in one process: give it room
    run_upy_tests([module], path=PATH, heapsize="8m", label="firmware " + module)


def test_reference_board_with_scripted_machine():
    run_upy_tests(["fwt_board_ref"], path=PATH + ["tests/firmware/upy/fake_machine"], label="firmware fwt_board_ref")
