"""Minimal test runner for the MicroPython interpreter (it has no unittest).

Usage: micropython upyrun.py MODULE [MODULE ...]
Runs every `test_*` function of each module, prints one PASS/FAIL line per
test and a closing `upy: N passed, M failed` line; exit status 1 on failure.
"""

import sys


def run(names):
    passed = 0
    failed = 0
    for name in names:
        mod = __import__(name)
        for attr in sorted(dir(mod)):
            if not attr.startswith("test_"):
                continue
            try:
                getattr(mod, attr)()
            except Exception as exc:  # report and go on
                failed += 1
                print("FAIL %s.%s: %r" % (name, attr, exc))
                if hasattr(sys, "print_exception"):
                    sys.print_exception(exc)
            else:
                passed += 1
                print("PASS %s.%s" % (name, attr))
    v = sys.implementation.version
    print("upy: MicroPython %d.%d.%d ran %d passed, %d failed" % (v[0], v[1], v[2], passed, failed))
    return failed


if __name__ == "__main__":
    sys.exit(1 if run(sys.argv[1:]) else 0)
