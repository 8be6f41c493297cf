"""Synthetic time-sync evidence for one node, timed as in the simulator (simulators/myosim/air.py).

Connection events every interval on the radio's clock, a write waits for the next event,
the node stamps t2 after a small receive delay and replies at the event after t3,
notifications reach the host at events + 600 us + an exponential jitter, never reordered;
a busy host delays a few deliveries by most of an interval.
"""

import numpy as np

L0_US = 600.0


def synth_session(interval_us=12_500.0, seconds=30.0, seed=1, ppm=60.0, jitter_us=800.0, late_frac=0.0, late_from_s=0.0,
             radio_ppm=0.0, warmup=False, stream_from_s=2.0, ping_gap_us=(20_000, 80_000)):
    """(exchanges, arrivals, node_of) for one node.

    late_frac: fraction of deliveries after late_from_s delayed by a further
    0.78-0.98 interval (they land just before the next event's, i.e. look early).
    radio_ppm: the radio's event clock runs this much fast against the host's.
    warmup: 8 pings, each sent right after the previous reply (the first after the
    configure reply), 8 s before streaming.
    """
    rng = np.random.default_rng(seed)
    per = interval_us * (1.0 - radio_ppm * 1e-6)  # event period on the host clock
    anchor = 500_000.0 + rng.uniform(0, per)

    def node_of(g_us):
        return 4e6 + g_us * (1 + ppm * 1e-6)

    def next_event(t):
        return anchor + np.ceil((t - anchor) / per) * per

    last = [0.0]

    def deliver(ev):
        t = ev + L0_US + rng.exponential(jitter_us)
        if late_frac and ev > late_from_s * 1e6 and rng.random() < late_frac:
            t += rng.uniform(0.78, 0.98) * per
        t = max(t, last[0])
        last[0] = t
        return t

    rows = []
    arrivals = []

    def exchange(t1):
        e1 = next_event(t1 + 100)
        d_node = 30.0 + rng.exponential(60.0)
        t2 = node_of(e1 + d_node)
        t3 = t2 + 150
        e2 = next_event(e1 + d_node + 150 + 1)
        t4 = deliver(e2)
        rows.append((int(t1), int(round(t2)), int(round(t3)), int(t4)))
        arrivals.append(t4)
        return t4

    t = stream_from_s * 1e6
    if warmup:
        tw = next_event(stream_from_s * 1e6 - 8e6) + L0_US  # the configure command's reply
        for _ in range(8):
            tw = exchange(tw + 300.0)  # each ping right after the last reply: always just after an event
    # data: each event carries the notifications queued since the last one (a frame every
    # 27.3 ms of node time: not a multiple of the 1.25 ms grid, like the node's frames)
    ev = next_event(stream_from_s * 1e6)
    next_frame = stream_from_s * 1e6
    pend = 0
    while ev < seconds * 1e6:
        while next_frame <= ev:
            pend += 1
            next_frame += 27_300.0
        if pend:
            arrivals.append(deliver(ev))
            pend = 0
        ev += per
    last[0] = 0.0
    while t < seconds * 1e6:
        t = exchange(t) + rng.uniform(*ping_gap_us)
    node_of.edge0_us = anchor + L0_US  # truth: the first event plus the fixed latency
    return np.array(rows, dtype=np.int64), np.sort(np.array(arrivals)), node_of


