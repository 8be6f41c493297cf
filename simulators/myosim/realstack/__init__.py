"""The real Bluetooth stacks in the loop: firmware on MicroPython's NimBLE `bluetooth`, HCI to Bumble.

build.py builds (and caches) the NimBLE unix-port binary; world.py runs nodes on it,
their controllers linked in one Bumble process, the central exposed over a transport.
"""
