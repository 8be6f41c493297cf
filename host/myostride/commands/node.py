"""`myostride node info|config|identify|reboot`: look at and set up one node (USB or BLE)."""

import argparse

from ..acquire.backends import add_backend_arguments, backend_from_args
from ..errors import UserError

HELP = """\
Look at and set up one node, over its USB cable (--port) or over Bluetooth
(--node ID, optionally --backend sim [--world PATH] for simulated nodes).

  myostride node info --port /dev/ttyACM0
  myostride node config --port /dev/ttyACM0 --node-id 3 --label "L TA" --powerline-hz 50
  myostride node config --node 3 --emg-hz 1000
  myostride node identify --node 3          (blinks the node's LED)
  myostride node reboot --node 3

Allowed values (the firmware's own rules; rates depend on the board):
node id 1-254, label up to 16 bytes, EMG rate 1000 or 2000 Hz on the reference
board, high-pass 10-20 Hz (order 2 or 4, USB only), powerline filter 0 (off), 50
or 60 Hz, IMU rate 0 (off), 104 or 208 Hz on the reference board.
Over USB the node stops while the command runs and restarts afterwards.
"""


def add_parser(subparsers):
    p = subparsers.add_parser("node", help="show or change a node's settings, blink it, reboot it", description=HELP,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=("info", "config", "identify", "reboot"))
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--port", help="the node's USB serial port (or a devboard's port)")
    where.add_argument("--node", type=int, metavar="ID", help="the node's id, to reach it over Bluetooth")
    add_backend_arguments(p)  # with --node: real radio (default), the simulator (--world) or Bumble
    p.add_argument("--baud", type=int, default=115200, help=argparse.SUPPRESS)
    g = p.add_argument_group("config settings (only those given change)")
    g.add_argument("--node-id", type=int, help="new node id (1-254)")
    g.add_argument("--label", help="label, at most 16 bytes, e.g. 'L TA'")
    g.add_argument("--emg-hz", type=int, help="EMG sample rate (Hz)")
    g.add_argument("--highpass-hz", type=int, help="high-pass corner, 10-20 Hz")
    g.add_argument("--highpass-order", type=int, help="high-pass order, 2 or 4 (USB only)")
    g.add_argument("--powerline-hz", type=int, help="powerline filter: 0 (off), 50 or 60")
    g.add_argument("--imu-hz", type=int, help="IMU rate, 0 = off")
    p.add_argument("--seconds", type=int, default=5, help="identify: how long to blink (1-60 s)")
    p.set_defaults(run=run)


def run(args):
    from ..bringup import nodeconfig

    updates = nodeconfig.updates_from_args(args)
    if args.action != "config" and updates:
        raise UserError("settings like --%s only go with `node config`" % next(iter(updates)).replace("_", "-"))
    if args.action == "config" and not updates:
        raise UserError("node config needs at least one setting, e.g. --node-id 3 --label 'L TA' (see --help)")
    if not 1 <= args.seconds <= 60:
        raise UserError("--seconds must be 1-60, got %d" % args.seconds)
    if args.port:
        if args.backend or args.world or args.hci:
            raise UserError("--backend/--world/--hci go with --node (Bluetooth), not with --port (USB)")
        return _run_serial(args, updates)
    return _run_ble(args, updates, backend_from_args(args))


def _print_config(cfg, prefix="  "):
    for k in ("node_id", "label", "emg_hz", "highpass_hz", "highpass_order", "powerline_hz", "imu_hz"):
        if k in cfg:
            print("%s%-15s %r" % (prefix, k, cfg[k]))


def _run_serial(args, updates):
    from ..bringup import flash
    from ..bringup.repl import open_board

    from ..bringup.repl import BoardError, LinkLost

    with open_board(args.port, args.baud) as board:
        try:
            _serial_action(args, updates, board)
        except BoardError as exc:
            raise UserError("the node reported an error (%s); reboot it (myostride node reboot --port %s) and "
                            "try again" % (str(exc).strip().splitlines()[-1], args.port))
        except LinkLost as exc:
            raise UserError("lost the node on %s (%s); check the cable and try again" % (args.port, exc))
        finally:
            flash.reset_to_run(board)  # entering the REPL stopped main.py: start it again, also after an error
        print("Node restarted." if args.action != "reboot" else "Node rebooted.")
    return 0


def _serial_action(args, updates, board):
    from ..bringup import nodecmd

    if args.action == "info":
        info = nodecmd.serial_info(board)
        print("Node on %s" % args.port)
        fw = info.get("firmware")
        print("  firmware        %s" % (".".join(str(v) for v in fw) if fw else "not installed (%s)" % info.get("firmware_error")))
        bj = info.get("board_json") or {}
        print("  board           %s" % bj.get("board", "no board.json"))
        if "battery_mv" in info:
            print("  battery         %d mV (%d %%)" % (info["battery_mv"], info["battery_pct"]))
        else:
            print("  battery         unknown: the firmware cannot reach the hardware (%s)" % info.get("hardware_error"))
        if info.get("config_raw") is None:
            print("  config.json     missing: the node runs on defaults; set it with `myostride node config`")
        elif nodecmd.config_problem(info):
            print("  config.json     REJECTED (%s): the node runs on defaults; fix it with `myostride node config`"
                  % nodecmd.config_problem(info))
        try:
            import json

            _print_config(json.loads(info["config_raw"]) if info.get("config_raw") else info.get("config_effective") or {})
        except ValueError:
            print("  config.json     unreadable: %r" % info["config_raw"][:80])
    elif args.action == "config":
        cfg, _after = nodecmd.serial_config(board, updates)
        print("Node config written and verified on %s:" % args.port)
        _print_config(cfg)
    elif args.action == "identify":
        print("Blinking the LED of the node on %s for %d s" % (args.port, args.seconds))
        nodecmd.serial_identify(board, args.seconds)


def _run_ble(args, updates, backend):
    from myowire import codec

    from ..bringup import nodecmd, nodeconfig

    node = args.node

    async def info(link):
        st, msg = await nodecmd.ble_info(link)
        print("Node %d over %s" % (node, backend.name))
        print("  firmware        %s" % ".".join(str(v) for v in st["firmware"]))
        print("  label           %r" % st["label"])
        print("  battery         %d mV (%d %%)%s" % (st["battery_mv"], st["battery_pct"],
                                                   "  LOW" if st["flags"] & codec.F_LOW_BATTERY else ""))
        print("  emg_hz          %d" % st["emg_hz"])
        print("  highpass_hz     %d (order %d)" % (st["highpass_hz"], 4 if st["filter_flags"] & codec.FF_HIGHPASS_4TH else 2))
        print("  powerline_hz    %d" % (st["powerline_hz"] if st["filter_flags"] & codec.FF_POWERLINE else 0))
        print("  imu_hz          %d" % st["imu_hz"])
        bits = st["selftest"]
        print("  self-test       " + ", ".join("%s %s" % (name, "ok" if bits & bit else "FAIL") for bit, name in (
            (codec.S_AFE, "front end"), (codec.S_IMU, "IMU"), (codec.S_CLOCK, "clock"), (codec.S_STORAGE, "storage"))
            if bit != codec.S_IMU or st["imu_hz"]))
        flags = [n for bit, n in codec.FLAG_NAMES if st["flags"] & bit]
        print("  flags           %s" % (", ".join(flags) or "none"))
        if msg:
            print("  note            %s" % msg)

    async def config(link):
        nodeconfig.Rules().validate(updates, "new settings")  # reference-board rules; the node re-checks its own
        await nodecmd.ble_command(link, codec.C_CONFIGURE, nodecmd.configure_args_from(updates))
        st, _msg = await nodecmd.ble_info(link)
        print("Node %d accepted the new settings:" % node)
        _print_config({"node_id": updates.get("node_id", node), "label": st["label"], "emg_hz": st["emg_hz"],
                       "highpass_hz": st["highpass_hz"], "powerline_hz": st["powerline_hz"], "imu_hz": st["imu_hz"]})

    async def identify(link):
        await nodecmd.ble_command(link, codec.C_IDENTIFY, bytes([args.seconds]))
        print("Node %d is blinking its LED for %d s" % (node, args.seconds))

    async def reboot(link):
        await nodecmd.ble_command(link, codec.C_REBOOT)
        print("Node %d is rebooting" % node)
        back = await nodecmd.wait_rebooted(link, backend)
        print("Node %d is back and advertising." % node if back else
              "Node %d has not come back yet; check it with `myostride scan` in a moment." % node)

    job = {"info": info, "config": config, "identify": identify, "reboot": reboot}[args.action]
    nodecmd.run_ble(node, backend, job)
    return 0
