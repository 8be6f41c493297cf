"""myostride node entry point (flash as main.py; on the unix port run
`MYOSTRIDE_SIM_NODE=<node.json> micropython firmware/main.py` with
MICROPYPATH=simulators/upy:firmware:protocol)."""

import bluetooth

import board
from node import Node


def main():
    Node(board.load(), bluetooth).run()


main()
