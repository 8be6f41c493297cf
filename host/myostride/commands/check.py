"""`myostride check`: pre-trial check of every mapped node and electrode."""

import argparse

from ..acquire.backends import add_backend_arguments, backend_from_args

HELP = """\
Before a walking trial: connect to the mapped nodes, run each node's self-test
(EMG front end and IMU responding, clock running, battery level, settings) and
record a few seconds with the patient still to measure each electrode's signal
quality (baseline noise, powerline hum, lead-off, clipping). Prints a pass/fail
table and what to fix, e.g.
  FIX node 3 (left tibialis anterior): noise 48 uV > 20 uV: re-prep skin / replace electrode on node 3
Use the same --map as the recording that follows. Results are written to
OUT/check.json (and the short recording to OUT/check-session/); keep OUT with
the session (copy check.json into the session directory).
Exit status: 0 all pass, 1 something to fix, 2 bad input.
"""


def add_parser(subparsers):
    p = subparsers.add_parser("check", help="pre-trial check: node self-tests and electrode signal quality",
                              description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--map", action="append", default=[], metavar="NODE=SIDE:MUSCLE", required=True,
                   help="node placement, e.g. 3=left:tibialis_anterior (repeat for each node)")
    add_backend_arguments(p)
    p.add_argument("--seconds", type=float, default=5.0, help="quality recording length, 5-10 s (default 5)")
    p.add_argument("--out", default="myostride-check", help="where check.json goes (default ./myostride-check)")
    p.set_defaults(run=run)


def run(args):
    from ..bringup.check import print_table, run_check

    result = run_check(args.map, args.seconds, args.out, backend_from_args(args))
    print_table(result)
    print("Results: %s/check.json" % args.out)
    return 0 if result["passed"] else 1
