"""Filter an int16 file with the firmware's FilterChain (run by tests/firmware/test_fw_filters.py).

usage: micropython fwt_filter_cli.py EMG_HZ HIGHPASS_HZ ORDER POWERLINE_HZ IN OUT
"""

import sys

from filters import FilterChain


def main(a):
    fc = FilterChain(int(a[0]), int(a[1]), int(a[2]), int(a[3]))
    with open(a[4], "rb") as f:
        x = f.read()
    n = len(x) // 2
    y = bytearray(2 * n)
    src = bytearray(x)
    sat = 0
    i = 0
    while i < n:  # blocks, as the node runs it
        m = n - i if n - i < 113 else 113
        sat += fc.run(src, 2 * i, y, 2 * i, m)
        i += m
    with open(a[5], "wb") as f:
        f.write(y)
    print("saturated", sat)


main(sys.argv[1:])
