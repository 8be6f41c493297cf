"""`myostride flash`: install the node firmware on a MicroPython board over USB serial."""

import argparse

from ..errors import UserError

HELP = """\
Install the myostride firmware on a board that already runs MicroPython.

What it does: compiles the firmware to .mpy for the board's CPU (read from the
board), writes every file to a temporary name, checks each by SHA-256 computed
on the board, then renames them into place with main.py last, writes the node
config (config.json) and reads the firmware version back. If the flash is
interrupted (cable pulled, Ctrl-C) the board still boots its previous firmware;
run the same command again to resume.

One-time step for a new ESP32 / ESP32-S3 board -- install MicroPython itself:
  1. pip install esptool
  2. Download MicroPython 1.29 (the version our .mpy files are built for) from
     https://micropython.org/download/ : ESP32_GENERIC_S3 for an ESP32-S3
     (the reference node), ESP32_GENERIC for a plain ESP32. Take the .bin file.
  3. Connect the board by USB. If the next step cannot connect, hold BOOT,
     press and release RESET, then release BOOT (download mode).
  4. esptool --chip esp32s3 --port PORT erase_flash
  5. esptool --chip esp32s3 --port PORT write_flash 0 ESP32_GENERIC_S3-...-v1.29.x.bin
     (plain ESP32: --chip esp32 and offset 0x1000 instead of 0; esptool 5 also
     accepts erase-flash / write-flash.) Press RESET afterwards.
Then: myostride flash --port PORT --node-id 3 --label "L TA"

PORT is /dev/ttyACM0 or /dev/ttyUSB0 on Linux, /dev/cu.usbmodem... on macOS,
COM3 (etc.) on Windows; `python -m serial.tools.list_ports` lists them.
No board at hand? `myostride devboard` starts a virtual one and prints its port.
"""


def add_parser(subparsers):
    p = subparsers.add_parser(
        "flash", help="install the node firmware over USB serial", description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--port", required=True, help="serial port of the board (or a devboard's port)")
    p.add_argument("--node-id", type=int, help="set the node id (1-254) in config.json")
    p.add_argument("--label", help="set the node label (at most 16 bytes), e.g. 'L TA'")
    p.add_argument("--board", help="board definition: NAME in hardware/boards/ or a .json path "
                   "(default: the only one there)")
    p.add_argument("--firmware", help="firmware folder (default: this checkout's firmware/)")
    p.add_argument("--no-compile", action="store_true", help="install .py sources instead of .mpy")
    p.add_argument("--no-reset", action="store_true", help="do not restart the board afterwards")
    p.add_argument("--baud", type=int, default=115200, help="baud rate (default 115200)")
    p.set_defaults(run=run)


def board_has_config(board):
    return board.sha256(["config.json"]).get("config.json") is not None


def run(args):
    from ..bringup import fileset, flash, nodeconfig
    from ..bringup.repl import open_board

    board_json = fileset.find_board(args.board)
    rules = nodeconfig.Rules.from_board(fileset.read_board(board_json))
    updates = nodeconfig.updates_from_args(args)
    rules.validate(updates, "--node-id/--label")
    fw_dir = args.firmware or fileset.default_firmware_dir()
    local_version = fileset.firmware_version(fw_dir)
    with open_board(args.port, args.baud) as board:
        try:
            _flash(args, board, board_json, fw_dir, local_version, rules, updates)
        except BaseException:
            try:
                flash.reset_to_run(board)  # leave it running its (previous) firmware, if it still listens
            except Exception:
                pass
            raise
    return 0


def _flash(args, board, board_json, fw_dir, local_version, rules, updates):
    from ..bringup import fileset, flash, nodeconfig

    facts = flash.board_facts(board)
    arch, note = flash.choose_arch(facts, compile_mpy=not args.no_compile)
    print("Board on %s: MicroPython %s, %s, .mpy arch %s" % (
        args.port, ".".join(str(v) for v in facts["version"]), facts["machine"], arch or "bytecode only"))
    if note:
        print(note)
    files = fileset.build(fw_dir, board_json=board_json, arch=arch, compile_mpy=not args.no_compile)
    print("Flashing firmware %s (%d files, board definition %s)" % (
        ".".join(str(v) for v in local_version), len(files), board_json.name))
    rep = flash.flash(board, files, config_updates=updates or None, rules=rules, compile_arch=arch or "py")
    for n in rep.notes:
        print("note: " + n)
    if rep.version != local_version:
        raise UserError("the board reports firmware %s after flashing %s; flash again" % (rep.version, local_version))
    print("Verified %d files by SHA-256 on the board (%d written, %d reused from an earlier run, %d unchanged)."
          % (rep.files + (1 if rep.config else 0), rep.written, rep.reused, rep.unchanged))
    if rep.removed:
        print("Removed files of the previous firmware: " + ", ".join(rep.removed))
    if not rep.config and not board_has_config(board):
        print("note: the node has no config.json: it runs on defaults (node id 1); set one with --node-id")
    if rep.config:
        print("Node config: " + ", ".join("%s=%r" % (k, rep.config[k]) for k in nodeconfig.KEYS if k in rep.config))
    print("Firmware version on the board: %s" % ".".join(str(v) for v in rep.version))
    if not args.no_reset:
        flash.reset_to_run(board)
        print("Board restarted: it now runs the new firmware.")
