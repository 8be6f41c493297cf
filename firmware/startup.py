"""Bring a node up in the order a small, fragmenting heap needs: the board first, then
the large preallocated frame store, then everything else (importing from source
leaves the heap in small pieces)."""

import gc


def make(bluetooth):
    """Load the board, allocate the store, build the Node (not yet running)."""
    import board

    b = board.load()
    gc.collect()
    from framestore import for_board

    store = for_board(b)
    gc.collect()
    from node import Node

    n = Node(b, bluetooth, store)
    gc.collect()
    return n
