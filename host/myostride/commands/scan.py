"""`myostride scan`: list the myostride nodes in range (id, name, firmware, battery, RSSI)."""

import asyncio
import json

from ..acquire.backends import add_backend_arguments, backend_from_args
from ..acquire.scanner import scan
from ..errors import UserError


def add_parser(subparsers):
    p = subparsers.add_parser(
        "scan",
        help="list nearby nodes (id, name, firmware, battery, RSSI)",
        description="Listen to advertising for a few seconds and list every myostride node heard. "
        "Real nodes use the computer's Bluetooth adapter (bleak); --backend sim lists the nodes of a "
        "running `myostride sim`.",
    )
    add_backend_arguments(p)
    p.add_argument("--seconds", type=float, default=3.0, metavar="S", help="how long to listen (default 3)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(run=run)


def run(args):
    if not 0 < args.seconds <= 600:
        raise UserError("--seconds must be more than 0 and at most 600, got %g" % args.seconds)
    backend = backend_from_args(args)
    found = asyncio.run(scan(args.seconds, backend))
    nodes = [found[k] for k in sorted(found)]
    if args.json:
        print(json.dumps([n.to_json() for n in nodes], indent=1))
        return 0
    if not nodes:
        print("no myostride nodes heard in %g s (are they switched on? for the simulator, is `myostride sim` running?)" % args.seconds)
        return 1
    from rich.console import Console
    from rich.table import Table

    t = Table(title="%d node%s" % (len(nodes), "" if len(nodes) == 1 else "s"))
    for c in ("id", "name", "firmware", "battery %", "RSSI dBm", "address"):
        t.add_column(c)
    for n in nodes:
        t.add_row(str(n.node_id), n.name or "", ".".join(map(str, n.firmware)), str(n.battery_pct),
                  "%d" % n.rssi if n.rssi is not None else "-", n.address)
    Console().print(t)
    return 0
