"""`myostride devboard`: a virtual MicroPython board (the unix port behind a pseudo-terminal)."""

import argparse
import tempfile

HELP = """\
Start a virtual MicroPython board: the `micropython` unix port behind a
pseudo-terminal, with a folder as its filesystem. It prints the port path;
use it wherever a board's serial port goes, e.g.
  myostride flash --port /dev/pts/5 --node-id 3 --label "L TA"
  myostride node info --port /dev/pts/5
  mpremote connect /dev/pts/5 fs ls
Like a board it runs boot.py and main.py at power-up, answers the raw REPL,
and soft-resets on Ctrl-D. It cannot load ESP32 (xtensawin) .mpy files; the
flasher reads its architecture (x64) and compiles for it. Runs until Ctrl-C.
"""


def add_parser(subparsers):
    p = subparsers.add_parser(
        "devboard", help="start a virtual MicroPython board and print its port", description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--dir", help="folder used as the board's filesystem (default: a new temporary folder, kept)")
    p.add_argument("--heapsize", help="MicroPython heap, e.g. 256k, to behave like a small board")
    p.add_argument("--no-main", action="store_true", help="do not run main.py at power-up")
    p.add_argument("--sim-node", metavar="NODE_JSON",
                   help="run the flashed firmware on this simulated node (a node.json in myosim.nodefiles "
                        "format): its simulated board, and Bluetooth on the simulator's air (which must be "
                        "running); --dir defaults to the node's filesystem folder")
    p.set_defaults(run=run)


def run(args):
    from ..bringup.devboard import main_loop, sim_node_env
    from ..errors import UserError

    extra_env = None
    fs_dir = args.dir
    if args.sim_node:
        try:
            extra_env, node_fs = sim_node_env(args.sim_node)
        except (OSError, ValueError, KeyError) as exc:
            raise UserError("cannot use %s as a simulated node (%s); give a node.json from `myostride sim`"
                            % (args.sim_node, exc))
        fs_dir = fs_dir or node_fs
    fs_dir = fs_dir or tempfile.mkdtemp(prefix="myostride-devboard-")

    def out(port):
        print("Virtual board running; filesystem %s" % fs_dir)
        print("Port: %s" % port, flush=True)
        print("Press Ctrl-C to stop.", flush=True)

    return main_loop(fs_dir, out=out, heapsize=args.heapsize, run_main=not args.no_main, extra_env=extra_env)
