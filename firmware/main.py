"""myostride node entry point (flash as main.py; on the unix port run
`MYOSTRIDE_SIM_NODE=<node.json> micropython firmware/main.py` with
MICROPYPATH=simulators/upy:firmware:protocol)."""

import sys

import bluetooth

import startup


def main():
    node = startup.make(bluetooth)
    try:
        node.run()
    except Exception as e:  # a firmware bug: say so, then restart rather than hang in the REPL
        sys.print_exception(e)
        if not node.board.reset():  # the simulated board cannot reset: let the process fail loudly
            raise


main()
