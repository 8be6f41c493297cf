"""The virtual board on its own: the `myostride devboard` command, raw REPL, soft reset, power cycle."""

import os
import signal
import subprocess
import sys
import time

from bringup_fixtures import cli

from myostride.bringup.devboard import DevBoard
from myostride.bringup.repl import open_board


def test_devboard_command_prints_a_port_that_answers_the_raw_repl(tmp_path):
    (tmp_path / "boot.py").write_text("print('boot ran')\n")
    # Started with SIGINT ignored, as a background job of a non-interactive shell is (the CI dry
    # run hung that way): the command restores Ctrl-C, its documented way out.
    p = subprocess.Popen([sys.executable, "-m", "myostride.cli", "devboard", "--dir", str(tmp_path)],
                         stdout=subprocess.PIPE, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        port = None
        end = time.monotonic() + 20
        while port is None and time.monotonic() < end:
            line = p.stdout.readline()
            if line.startswith("Port: "):
                port = line.split(": ", 1)[1].strip()
        assert port and os.path.exists(port)
        with open_board(port) as b:
            assert b.exec("import os\nprint(os.getcwd())").strip() == str(tmp_path)
            assert b.eval("1 + 2") == 3
            b.write_file("hello.bin", bytes(range(256)) * 5)
        assert (tmp_path / "hello.bin").read_bytes() == bytes(range(256)) * 5
    finally:
        p.send_signal(signal.SIGINT)
        # Bounded: stop() takes at most ~2 x its bound; 30 s leaves room for a loaded CI worker
        # (the suite's other worker analyses real files meanwhile) without hiding a hang.
        assert p.wait(30) == 0


def test_soft_reset_and_power_cycle_restart_the_interpreter(tmp_path):
    (tmp_path / "main.py").write_text("import time\nwhile True:\n    time.sleep(0.05)\n")
    with DevBoard(tmp_path) as dev:
        with open_board(dev.port) as b:  # interrupts the running main.py
            b.exec("x = 41")
            assert b.eval("x + 1") == 42
            boots = dev.boots
            b.soft_reset()
            assert dev.boots == boots + 1
            assert b.eval("'x' in globals()") is False  # fresh interpreter, still in the raw REPL
        pid = dev.pid
        dev.power_cycle()
        assert dev.pid != pid
        with open_board(dev.port) as b:
            assert b.eval("2 * 21") == 42


def test_flash_help_explains_installing_micropython():
    rc, out, err = cli("flash", "--help")
    assert rc == 0
    for words in ("esptool", "erase_flash", "write_flash 0", "micropython.org/download", "ESP32_GENERIC_S3", "1.29"):
        assert words in out


def test_stop_while_the_interpreter_reboots_is_prompt(tmp_path):
    """Ctrl-C to `myostride devboard` while its interpreter was rebooting took over 10 s (seen in
    CI): the relay waited up to 10 s for the boot banner (and 10 s more for the raw REPL) with
    the lock held, and stop() waited for it. Those waits now end when stop() is called. The
    interpreter here is made slow to boot (8 s) by a wrapper, so the old code fails this."""
    import stat
    import threading

    slow = tmp_path / "slow-micropython"
    slow.write_text("#!%s\nimport os, sys, time\ntime.sleep(8)\nos.execv(%r, [%r] + sys.argv[1:])\n"
                    % (sys.executable, DevBoard(tmp_path).micropython, DevBoard(tmp_path).micropython))
    slow.chmod(slow.stat().st_mode | stat.S_IXUSR)
    fs = tmp_path / "fs"
    dev = DevBoard(fs)
    dev.start()
    dev.micropython = str(slow)  # the next power-up boots slowly
    try:
        cycling = threading.Thread(target=dev.power_cycle, daemon=True)
        cycling.start()
        time.sleep(0.3)  # the power cycle is under way: waiting for the new interpreter
    finally:
        t0 = time.monotonic()
        dev.stop()
        took = time.monotonic() - t0
    cycling.join(5)
    assert not cycling.is_alive()
    assert took < 5.0, took
