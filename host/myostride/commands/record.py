"""`myostride record`: record a walking trial from up to 12 nodes into a session directory.

Also `myostride record --rebuild DIR`: rewrite DIR/session.json from DIR/raw.log alone.
"""

import asyncio
import json
import signal
from pathlib import Path

from ..acquire.backends import add_backend_arguments, backend_from_args
from ..errors import UserError


def add_parser(subparsers):
    p = subparsers.add_parser(
        "record",
        help="record a session from mapped nodes (or --rebuild one from its raw log)",
        description="Connect to every mapped node, configure and start them together, synchronise their "
        "clocks, and record until --seconds have passed or Ctrl-C. Lost radio packets are asked for "
        "again; only what a node no longer holds becomes an explicit gap. Everything is written to "
        "OUT/raw.log as it arrives (crash-safe) and summarised in OUT/session.json.",
        epilog="Example: myostride record --backend sim --seconds 30 --out trial01 --map 1=left:tibialis_anterior "
        "--map 7=right:tibialis_anterior",
    )
    p.add_argument("--out", metavar="DIR", help="new session directory (must not hold a session yet)")
    p.add_argument("--seconds", type=float, metavar="S", help="recording length in seconds (default: until Ctrl-C)")
    p.add_argument("--map", action="append", default=[], metavar="NODE=SIDE:MUSCLE",
                   help="one per node (up to 12): node id, left/right, muscle (e.g. 3=left:soleus); repeatable")
    add_backend_arguments(p)
    p.add_argument("--emg-hz", type=int, default=2000, help="EMG sampling rate: 1000, 1926 or 2000 (default 2000)")
    p.add_argument("--highpass-hz", type=int, default=20, help="node high-pass corner, 10-20 Hz (default 20)")
    p.add_argument("--powerline-hz", type=int, default=0, help="node powerline filter: 0 off (default, SENIAM), 50 or 60")
    p.add_argument("--imu-hz", type=int, default=100, help="IMU rate: 0 off, 100 (default) or 200")
    p.add_argument("--board", default="myostride-ref-s3", metavar="NAME",
                   help="node hardware (hardware/boards/NAME.json) recorded for the report's equipment section "
                        "(default myostride-ref-s3, the reference node the simulator also models)")
    p.add_argument("--check", metavar="DIR",
                   help="folder of the pre-trial `myostride check` run: its check.json is stored with the session")
    p.add_argument("--scan-seconds", type=float, default=10.0, help="how long to look for the mapped nodes (default 10)")
    p.add_argument("--no-live", action="store_true", help="no live table; print a summary at the end only")
    p.add_argument("--rebuild", metavar="DIR", help="rebuild DIR/session.json from DIR/raw.log and exit")
    p.set_defaults(run=run)


def run(args):
    if args.rebuild:
        from ..session import rebuild_session

        man = rebuild_session(args.rebuild)
        _print_summary(man)
        return 0
    if not args.out:
        raise UserError("--out DIR is required: the new session directory")
    if not args.map:
        raise UserError("no --map given: map each node, e.g. --map 1=left:tibialis_anterior (node ids from `myostride scan`)")
    if args.seconds is not None and not 0 < args.seconds <= 24 * 3600:
        raise UserError("--seconds must be more than 0 (and at most a day), got %g" % args.seconds)
    backend = backend_from_args(args)
    from ..acquire.recorder import Recorder

    config = {"emg_hz": args.emg_hz, "highpass_hz": args.highpass_hz, "powerline_hz": args.powerline_hz, "imu_hz": args.imu_hz}
    display = None
    if not args.no_live:
        from ..acquire.live import LiveDisplay

        display = LiveDisplay()
    rec = Recorder(args.out, args.map, args.seconds, backend=backend, config=config,
                   progress=display.update if display else None, scan_s=args.scan_seconds, board=args.board)
    check = _read_check(args.check)
    man = asyncio.run(_run(rec, display))
    if display is not None:
        print()
    if check is not None:
        (Path(args.out) / "check.json").write_text(check)
        print("pre-trial check stored with the session: %s" % (Path(args.out) / "check.json"))
    _print_summary(man)
    return 0 if man["status"] in ("complete", "stopped") else 1


def _read_check(folder):
    """check.json of a `myostride check --out DIR` run, read before recording starts."""
    if not folder:
        return None
    path = Path(folder)
    path = path if path.name == "check.json" else path / "check.json"
    try:
        text = path.read_text()
        if json.loads(text).get("schema") != "myostride.check/1":
            raise ValueError
    except (OSError, ValueError, AttributeError):
        raise UserError("--check %s: no myostride check result there; run `myostride check --out DIR` first "
                        "and pass that DIR" % folder) from None
    return text


async def _run(rec, display):
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    presses = []

    def on_sigint():
        presses.append(1)
        if len(presses) == 1:
            stop.set()  # clean stop: STOP, fetch missing frames, write session.json
        else:
            rec.drain_s = 0.0  # second Ctrl-C: stop fetching, close now

    loop.add_signal_handler(signal.SIGINT, on_sigint)
    try:
        if display is not None:
            with display:
                return await rec.run(stop)
        return await rec.run(stop)
    finally:
        loop.remove_signal_handler(signal.SIGINT)


def _print_summary(man):
    print("session %s: %s, %.1f s, %s" % (man.get("session_id"), man["status"], man.get("duration_s") or 0, man.get("end_reason")))
    for n in man["nodes"]:
        s = n["samples"]
        f = n["frames"]
        print("  node %2d %-5s %-24s samples %d/%d (recovered %d, missing %d), frames lost %d, gaps %d, disconnects %d"
              % (n["node_id"], n["side"] or "?", n["muscle"] or "?", s["received"], s["expected"], s["recovered"], s["missing"],
                 f["missing"], len(n["gaps"]), n["disconnects"]))
    tail = man.get("raw_log", {}).get("tail_ignored_bytes")
    if tail:
        print("  raw.log: %d bytes at the end were incomplete and ignored (%s)" % (tail, man["raw_log"].get("tail_reason")))
