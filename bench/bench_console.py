"""The console under a full load: 12 nodes at 2 kHz recorded while a page in headless Chromium draws them.

Measures, on the real parts (simulated nodes running the firmware, `myostride console`
as its own process, its recorder child, Debian's Chromium driven by Selenium):

  latency   sample arrival at the host -> drawn on the page (ms). The recorder stamps each
            frame's arrival (host clock, in raw.log); the server turns the newest stamp of each
            update into wall-clock ms; the page's performance hook (window.myostridePerf,
            performance.mark "myostride-drawn") takes performance.timeOrigin + now() right
            after the canvas draw that first shows it.
  fps       page frames drawn per second (requestAnimationFrame callbacks that drew)
  server    the console server process's CPU, % of one core, with the page open, against a
            baseline in the same run: the same server, same recording, no page open
  recorder  the recorder child's CPU (% of one core) for scale

Each measured phase is cut into windows; we print the median and the min-max over windows.

    python bench/bench_console.py                      # 12 nodes, 3 x 10 s windows per phase
    python bench/bench_console.py --nodes 4 --window-s 5 --windows 2   # quick
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "console"))

LAYOUT_MUSCLES = None


def cpu_s(pid):
    """utime + stime of one process, seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child_pids(pid):
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                stat = (p / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid:
                out.append(int(p.name))
    return out


def cpu_pct_windows(groups, window_s, windows, during=None):
    """[([% of one core per pid group], extra)] per window; extra = during() at the window's start."""
    res = []
    for _ in range(windows):
        c0 = [sum(cpu_s(p) for p in g) for g in groups]
        t0 = time.monotonic()
        extra = during() if during else None
        time.sleep(max(0.0, window_s - (time.monotonic() - t0)))
        c1 = [sum(cpu_s(p) for p in g) for g in groups]
        wall = time.monotonic() - t0
        res.append(([100.0 * (b - a) / wall for a, b in zip(c0, c1)], extra))
    return res


def spread(xs):
    return "median %.1f (min %.1f, max %.1f)" % (statistics.median(xs), min(xs), max(xs))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", type=int, default=12)
    ap.add_argument("--window-s", type=float, default=10.0)
    ap.add_argument("--windows", type=int, default=3)
    args = ap.parse_args()

    from consolekit import Server, chromium, wait_for

    from myostride.console.radio import SimPatient

    tmp = Path(tempfile.mkdtemp(prefix="bench-console-"))
    phase_s = args.window_s * args.windows
    trial_s = 2 * phase_s + 40
    print("bench_console: %d nodes at 2 kHz, %d x %.0f s windows per phase; load before: %s"
          % (args.nodes, args.windows, args.window_s, open("/proc/loadavg").read().strip()))
    sim = SimPatient(tmp / "sim", nodes=args.nodes, seconds=trial_s + 60, seed=5)
    world = sim.start()
    server = driver = None
    try:
        server = Server(tmp / "data", "--backend", "sim", "--world", world)
        c = server.client()
        sid = c.post("/api/studies", json={"clinical": {"patient": {"id": "BENCH"},
                                                         "date_of_service": time.strftime("%Y-%m-%d", time.gmtime())}}).json()["id"]
        layout = sim.describe()["layout"]
        c.put("/api/studies/%s/mapping" % sid, json={"mapping": layout}).raise_for_status()
        tid = c.post("/api/studies/%s/trials" % sid, json={"seconds": trial_s}).json()["id"]
        log = tmp / "data" / "studies" / sid / "trials" / tid / "raw.log"
        wait_for(lambda: log.exists() and log.stat().st_size > 500_000, 90, "recording under way")
        rec_pids = child_pids(server.proc.pid)  # the recorder child (the bench owns the simulated nodes)
        assert len(rec_pids) == 1, rec_pids
        time.sleep(3)
        groups = [[server.proc.pid], rec_pids]
        base = cpu_pct_windows(groups, args.window_s, args.windows)

        driver = chromium(tmp)
        driver.get(server.url)
        wait_for(lambda: driver.execute_script("return window.myostridePerf.latency_ms.length") > 20, 60, "page drawing")
        time.sleep(3)

        def page_mark():
            return driver.execute_script("const p = window.myostridePerf; return [p.frames, performance.now(), p.latency_ms.length];")

        loaded = cpu_pct_windows(groups, args.window_s, args.windows, during=page_mark)
        end = page_mark()
        marks = [m for _c, m in loaded] + [end]
        lat_all = driver.execute_script("return window.myostridePerf.latency_ms;")
        fps, lat_med = [], []
        for a, b in zip(marks, marks[1:]):
            fps.append(1000.0 * (b[0] - a[0]) / (b[1] - a[1]))
            lat_med.append(statistics.median(lat_all[a[2]:b[2]]))
        window_lat = lat_all[marks[0][2]:end[2]]
        c.post("/api/studies/%s/trials/%s/stop" % (sid, tid))
    finally:
        if driver is not None:
            driver.quit()
        if server is not None:
            server.stop()
        sim.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    q = statistics.quantiles(window_lat, n=20)
    print("load after: %s" % open("/proc/loadavg").read().strip())
    print("arrival -> drawn latency ms: median %.1f, p5 %.1f, p95 %.1f over %d draws; per-window medians %s (goal < 150)"
          % (statistics.median(window_lat), q[0], q[-1], len(window_lat), spread(lat_med)))
    print("page frames/s: %s (goal >= 30)" % spread(fps))
    b = [x[0] for x, _ in base]
    page_open = [x[0] for x, _ in loaded]
    print("server CPU %% of one core, page open: %s (goal < 15)" % spread(page_open))
    print("server CPU %% of one core, no page (baseline, same run): %s; ratio open/baseline %.2f"
          % (spread(b), statistics.median(page_open) / max(0.01, statistics.median(b))))
    print("recorder child CPU %% of one core (for scale, all windows): %s" % spread([x[1] for x, _ in base + loaded]))


if __name__ == "__main__":
    main()
