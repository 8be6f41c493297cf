"""Pick the board: the simulated one on the unix port when MYOSTRIDE_SIM_NODE is set,
else the reference board described by board.json (a copy of a hardware/boards/*.json)."""

import json


def _env(name):
    try:
        import os

        return os.getenv(name)
    except (ImportError, AttributeError):  # ports without os.getenv
        return None


def load(board_json="board.json"):
    node = _env("MYOSTRIDE_SIM_NODE")
    if node:
        from board_sim import SimBoard

        return SimBoard(node)
    try:
        with open(board_json) as f:
            spec = json.load(f)
    except OSError:
        raise RuntimeError("no %s on the node: copy hardware/boards/<board>.json there as %s" % (board_json, board_json))
    from board_ref import RefBoard

    return RefBoard(spec)
