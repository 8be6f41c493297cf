"""Flashing speed on the virtual board: our writer vs mpremote's, full and no-change flashes.

    python bench/bench_flash.py            # 5 repeats
    python bench/bench_flash.py --quick    # 2 repeats

Same run, interleaved repeats (a busy machine slows both alike):
 * write: every compiled firmware file (x64 .mpy) written to the board with
   Board.write_file (base64, 768 B per raw-REPL exec) vs mpremote's
   SerialTransport.fs_writefile (repr chunks of 256 B, the baseline);
 * hash: all files hashed on the board in one exec vs mpremote's fs_hashfile per file;
 * flash: a complete `flash.flash` onto an empty board, and again with nothing changed.
Prints medians (s), bytes/s and ratios. The pty has no baud-rate limit: on a real
115200-baud UART the transfer is bounded by ~11 kB/s and fewer, larger execs help more.
"""

import argparse
import statistics
import tempfile
import time

from myostride.bringup import fileset, flash
from myostride.bringup.devboard import DevBoard
from myostride.bringup.repl import WRITE_CHUNK, open_board


def wire_bytes(files):
    """Bytes each writer sends over the serial line for these files (commands + raw-paste framing)."""
    import base64

    ours = theirs = 0
    for f in files:
        for i in range(0, len(f.data), WRITE_CHUNK):
            ours += len("_f.write(_d(%r))" % base64.b64encode(f.data[i:i + WRITE_CHUNK]).decode()) + 4
        for i in range(0, len(f.data), 256):
            theirs += len("w(" + repr(f.data[i:i + 256]) + ")") + 4
    return ours, theirs


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    repeats = 2 if args.quick else args.repeats
    files = fileset.build(arch="x64", board_json=fileset.find_board(None))
    total = sum(len(f.data) for f in files)
    times = {k: [] for k in ("write_ours", "write_mpremote", "hash_ours", "hash_mpremote", "flash_full", "flash_nochange")}
    with tempfile.TemporaryDirectory() as d:
        with DevBoard(d, run_main=False) as dev, open_board(dev.port) as b:
            b.mkdirs({"drivers", "myowire"})
            for _ in range(repeats):
                times["write_ours"].append(timed(lambda: [b.write_file(f.dest + ".a", f.data) for f in files]))
                times["write_mpremote"].append(timed(lambda: [b.t.fs_writefile(f.dest + ".b", f.data) for f in files]))
                times["hash_ours"].append(timed(lambda: b.sha256([f.dest + ".a" for f in files])))
                times["hash_mpremote"].append(timed(lambda: [b.t.fs_hashfile(f.dest + ".b", "sha256") for f in files]))
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as d:
            with DevBoard(d, run_main=False) as dev, open_board(dev.port) as b:
                times["flash_full"].append(timed(lambda: flash.flash(b, files, say=lambda m: None)))
                times["flash_nochange"].append(timed(lambda: flash.flash(b, files, say=lambda m: None)))
    med = {k: statistics.median(v) for k, v in times.items()}
    print("firmware: %d files, %d bytes (x64 .mpy); %d repeats, medians" % (len(files), total, repeats))
    print("write   ours %.3f s (%.0f B/s)   mpremote fs_writefile %.3f s (%.0f B/s)   ratio %.2fx"
          % (med["write_ours"], total / med["write_ours"], med["write_mpremote"], total / med["write_mpremote"],
             med["write_mpremote"] / med["write_ours"]))
    print("hash    ours %.3f s (one exec)   mpremote fs_hashfile %.3f s (per file)   ratio %.2fx"
          % (med["hash_ours"], med["hash_mpremote"], med["hash_mpremote"] / med["hash_ours"]))
    ours, theirs = wire_bytes(files)
    print("on a 115200-baud UART (11520 B/s): ours %d B on the wire = %.1f s, mpremote %d B = %.1f s, ratio %.2fx"
          % (ours, ours / 11520, theirs, theirs / 11520, theirs / ours))
    print("flash   full %.3f s   nothing changed %.3f s   ratio %.2fx"
          % (med["flash_full"], med["flash_nochange"], med["flash_full"] / med["flash_nochange"]))


if __name__ == "__main__":
    main()
