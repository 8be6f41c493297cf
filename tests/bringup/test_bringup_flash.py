"""Flashing the real firmware onto the virtual board through the same code path as a real board."""

import json
import time

import pytest
from bringup_fixtures import FIRMWARE, cli, firmware_copy, scan_versions, sha, sim_env, sim_node

from myostride.bringup import fileset, flash, mpyarch, nodeconfig
from myostride.bringup.devboard import DevBoard
from myostride.bringup.repl import LinkLost, open_board
from myostride.errors import UserError

ESP32S3_MPY = 6 | (3 << 8) | (10 << 10)  # sys.implementation._mpy on MicroPython 1.29 for ESP32-S3


@pytest.fixture
def board(tmp_path):
    b = DevBoard(tmp_path / "fs", run_main=False)
    b.start()
    yield b
    b.stop()


def installed_hashes(fs_dir, files):
    return {f.dest: sha(fs_dir / f.dest) for f in files if (fs_dir / f.dest).exists()}


def test_arch_detection_picks_x64_for_devboard_and_xtensawin_for_esp32(board):
    assert mpyarch.decode_mpy(ESP32S3_MPY) == (6, 3, "xtensawin")
    with open_board(board.port) as b:
        facts = flash.board_facts(b)
    arch, _ = flash.choose_arch(facts)
    assert arch == "x64"
    # Same sources, different machine code: the viper CRC in myowire/codec is native.
    x64 = {f.dest: f.data for f in fileset.build(arch="x64")}
    xt = {f.dest: f.data for f in fileset.build(arch="xtensawin")}
    assert x64["myowire/codec.mpy"][:3] == b"M\x06" + bytes([(2 << 2) | 3])
    assert xt["myowire/codec.mpy"][:3] == b"M\x06" + bytes([(10 << 2) | 3])
    assert "main.py" in x64 and "main.mpy" not in x64  # the board runs main.py by name
    assert not any(d.startswith("tools/") for d in x64)


def test_old_micropython_is_refused_with_the_fix(board):
    facts = {"mpy": 5 | (10 << 10), "version": [1, 19, 1]}
    with pytest.raises(UserError, match="install MicroPython 1.29"):
        flash.choose_arch(facts)


def test_cli_flash_installs_verifies_and_reads_back(board, tmp_path):
    fs = tmp_path / "fs"
    (fs / "node.py").write_text("raise RuntimeError('stale source that would shadow node.mpy')\n")
    (fs / "session-notes.txt").write_text("user data")
    rc, out, err = cli("flash", "--port", board.port, "--node-id", 3, "--label", "L TA", "--no-reset")
    assert rc == 0, err
    assert "arch x64" in out and "Firmware version on the board: 0.1.0" in out
    files = fileset.build(arch="x64", board_json=fileset.find_board(None))
    # Independent check: hash what is really on the board's filesystem.
    assert installed_hashes(fs, files) == {f.dest: f.sha256 for f in files}
    assert not (fs / "node.py").exists(), "a stale .py would shadow the new .mpy"
    assert (fs / "session-notes.txt").read_text() == "user data"
    assert not list(fs.rglob("*.new")), "no staged leftovers"
    cfg = json.loads((fs / "config.json").read_text())
    assert cfg["node_id"] == 3 and cfg["label"] == "L TA" and set(cfg) == set(nodeconfig.KEYS)
    # The firmware's own loader accepts it (else the node would run on defaults).
    with open_board(board.port) as b:
        out = b.exec(
            "import json, config\nclass B:\n default_node_id=1\n default_emg_hz=2000\n default_imu_hz=104\n"
            " emg_rates=(1000,2000)\n imu_rates=(104,208)\n"
            "c, why = config.load('config.json', B())\nprint(json.dumps([c, why]))\n"
        )
    c, why = json.loads(out)
    assert why is None and c["node_id"] == 3
    # Flashing again writes nothing (all hashes match) and keeps the config.
    rc, out, err = cli("flash", "--port", board.port, "--no-reset")
    assert rc == 0, err
    assert "(0 written" in out, out
    assert json.loads((fs / "config.json").read_text())["node_id"] == 3


def test_bad_flash_input_is_one_clear_line(board, tmp_path):
    rc, out, err = cli("flash", "--port", tmp_path / "nope", "--node-id", 3)
    assert rc == 2 and "does not exist" in err and "Traceback" not in err
    rc, out, err = cli("flash", "--port", board.port, "--node-id", 300)
    assert rc == 2 and "1-254" in err and "Traceback" not in err
    rc, out, err = cli("flash", "--port", board.port, "--board", "no-such-board")
    assert rc == 2 and "myostride-ref-s3" in err
    rc, out, err = cli("flash", "--port", board.port, "--label", "x" * 17)
    assert rc == 2 and "16 bytes" in err


def test_orphans_of_the_previous_flash_are_removed(board, tmp_path):
    fw = firmware_copy(tmp_path / "fw_a", (0, 1, 0))
    (fw / "extra_module.py").write_text("X = 1\n")
    with open_board(board.port) as b:
        flash.flash(b, fileset.build(fw, arch="x64"), say=lambda m: None)
    assert (tmp_path / "fs" / "extra_module.mpy").exists()
    (tmp_path / "fs" / "user.json").write_text("{}")
    with open_board(board.port) as b:
        rep = flash.flash(b, fileset.build(FIRMWARE, arch="x64"), say=lambda m: None)
    assert rep.removed == ["extra_module.mpy"]
    assert not (tmp_path / "fs" / "extra_module.mpy").exists() and (tmp_path / "fs" / "user.json").exists()


@pytest.mark.slow
def test_interrupted_flash_keeps_the_old_firmware_booting_then_resumes(tmp_path):
    """Flash 0.1.0, start flashing 0.2.0 and pull the plug after 5 files: the board boots 0.1.0
    (it advertises it on the simulated air), the re-run resumes from the staged files and 0.2.0 boots."""
    from myosim.world import World

    wj, nj = sim_node(tmp_path, node_id=7)
    fs = nj.parent / "fs"
    new_fw = firmware_copy(tmp_path / "fw_new", (0, 2, 0))
    with World([], wj), DevBoard(fs, extra_env=sim_env(nj)) as dev:
        rc, out, err = cli("flash", "--port", dev.port, "--node-id", 5)
        assert rc == 0, err
        assert wait_for(lambda: scan_versions(wj).get("myo-05") == [0, 1, 0])
        old = {p: sha(p) for p in fs.rglob("*") if p.is_file() and not p.name.endswith(".new")}

        files = fileset.build(new_fw, arch="x64", board_json=fileset.find_board(None))
        with open_board(dev.port) as b:
            with pytest.raises(flash.FlashInterrupted, match="still boots its previous firmware"):
                flash.flash(b, files, say=lambda m: None, after_file=lambda k: k == 5 and dev.power_cycle())
        assert len(list(fs.rglob("*.new"))) >= 5
        # Every installed file is still the old one; the board boots and advertises 0.1.0.
        assert {p: sha(p) for p in old} == old
        assert wait_for(lambda: scan_versions(wj).get("myo-05") == [0, 1, 0])

        rc, out, err = cli("flash", "--port", dev.port, "--firmware", new_fw)
        assert rc == 0, err
        assert "reused from an earlier run" in out and " 0 reused" not in out
        assert "Firmware version on the board: 0.2.0" in out
        assert wait_for(lambda: scan_versions(wj).get("myo-05") == [0, 2, 0])


def test_interrupted_commit_is_finished_by_the_next_flash(board, tmp_path):
    new_fw = firmware_copy(tmp_path / "fw_new", (0, 3, 0))
    with open_board(board.port) as b:
        flash.flash(b, fileset.build(FIRMWARE, arch="x64"), say=lambda m: None)
    real_exec = type(b).exec

    def exec_dies_at_commit(self, code, timeout=30):
        if "_j['renames']" in code:
            board.power_cycle()  # power lost the moment the commit was due
            raise LinkLost("board vanished")
        return real_exec(self, code, timeout)

    with open_board(board.port) as b:
        b.exec = exec_dies_at_commit.__get__(b)
        with pytest.raises(flash.FlashInterrupted, match="committing"):
            flash.flash(b, fileset.build(new_fw, arch="x64"), say=lambda m: None)
    assert (tmp_path / "fs" / flash.JOURNAL).exists()
    with open_board(board.port) as b:
        assert flash.read_version(b) == (0, 1, 0)  # nothing renamed yet: old firmware intact
        rep = flash.flash(b, fileset.build(new_fw, arch="x64"), say=lambda m: None)
    assert rep.resumed_commit and rep.version == (0, 3, 0)
    assert not (tmp_path / "fs" / flash.JOURNAL).exists()


def wait_for(cond, timeout_s=15.0):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if cond():
            return True
    return False


def test_ctrl_c_while_staging_says_how_to_resume(board, tmp_path):
    with open_board(board.port) as b:
        flash.flash(b, fileset.build(FIRMWARE, arch="x64"), say=lambda m: None)
    new_fw = firmware_copy(tmp_path / "fw_new", (0, 4, 0))

    def ctrl_c(k):
        if k == 3:
            raise KeyboardInterrupt

    with open_board(board.port) as b:
        with pytest.raises(flash.FlashInterrupted) as info:
            flash.flash(b, fileset.build(new_fw, arch="x64"), say=lambda m: None, after_file=ctrl_c)
        msg = str(info.value)
        assert "Ctrl-C" in msg and "3 of" in msg and "run the same command again to resume" in msg
        assert flash.read_version(b) == (0, 1, 0)
        rep = flash.flash(b, fileset.build(new_fw, arch="x64"), say=lambda m: None)
    assert rep.reused == 3 and rep.version == (0, 4, 0)


def test_switching_to_sources_removes_the_compiled_shadows(board, tmp_path):
    fs = tmp_path / "fs"
    with open_board(board.port) as b:
        flash.flash(b, fileset.build(FIRMWARE, arch="x64"), say=lambda m: None)
        assert (fs / "node.mpy").exists()
        rep = flash.flash(b, fileset.build(FIRMWARE, compile_mpy=False), say=lambda m: None)
    assert rep.version == (0, 1, 0)
    assert (fs / "node.py").exists() and not (fs / "node.mpy").exists()
    assert not list(fs.rglob("*.mpy"))


def test_flash_fits_a_small_heap(tmp_path):
    """The board-side scripts (write, hash, commit, version, config) work in a 64 KB MicroPython heap."""
    with DevBoard(tmp_path / "fs", run_main=False, heapsize="64k") as dev:
        rc, out, err = cli("flash", "--port", dev.port, "--node-id", 4, "--no-reset")
        assert rc == 0, err
        assert "Firmware version on the board: 0.1.0" in out
        rc, out, err = cli("node", "config", "--port", dev.port, "--label", "R ST")
        assert rc == 0, err
