"""The simulated walking patient: gait events and true muscle activation intervals.

A patient walks continuously (treadmill-like) on the global clock. Each side has
its own foot strikes and foot offs; the right side follows the left by about half
a stride. Healthy muscle activity is drawn per stride and per side from the
simulator's own physiology (physiology.py: onset/offset distributions measured on a
real recording, not the table the host judges normality by), plus the healthy
variability of real walking (tibialis anterior mid-stance burst in ~30 % of strides,
Di Nardo 2013; occasional extra short bursts; burst-to-burst amplitude variation).
Pathological presets replace a muscle's bursts by windows of their own and change the
stance phase and the foot contact (toe walking).

Everything here is pure numpy and seeded: the same seed gives the same patient.
Times are global seconds; percentages are % of the gait cycle.
"""

import numpy as np

from .physiology import SIDE_BIAS_SD_PCT, SIDES, check_muscle, normal_bursts

GAIT_MUSCLES = (
    "tibialis_anterior",
    "gastrocnemius_medialis",
    "gastrocnemius_lateralis",
    "soleus",
    "peroneus_longus",
    "rectus_femoris",
    "vastus_lateralis",
    "vastus_medialis",
    "biceps_femoris",
    "semitendinosus",
    "gluteus_medius",
    "gluteus_maximus",
)

# Peak burst RMS in microvolts for a typical adult with 20 mm inter-electrode distance
# (orders of magnitude seen in ../shared/data: tens to a few hundred uV).
PEAK_RMS_UV = {
    "tibialis_anterior": 130.0,
    "gastrocnemius_medialis": 140.0,
    "gastrocnemius_lateralis": 100.0,
    "soleus": 120.0,
    "peroneus_longus": 110.0,
    "rectus_femoris": 40.0,
    "vastus_lateralis": 75.0,
    "vastus_medialis": 65.0,
    "biceps_femoris": 80.0,
    "semitendinosus": 55.0,
    "gluteus_medius": 90.0,
    "gluteus_maximus": 50.0,
}

# Spectral shape per muscle (Shwedyk sEMG PSD corner frequencies, Hz): the median
# frequency lands between ~55 Hz (hamstrings, rectus) and ~105 Hz (tibialis, soleus),
# as in the Santuz recording.
SPECTRUM_HZ = {
    "tibialis_anterior": (66.0, 143.0),
    "gastrocnemius_medialis": (48.0, 105.0),
    "gastrocnemius_lateralis": (56.0, 125.0),
    "soleus": (66.0, 143.0),
    "peroneus_longus": (50.0, 110.0),
    "rectus_femoris": (33.0, 75.0),
    "vastus_lateralis": (38.0, 85.0),
    "vastus_medialis": (36.0, 80.0),
    "biceps_femoris": (35.0, 80.0),
    "semitendinosus": (32.0, 72.0),
    "gluteus_medius": (40.0, 90.0),
    "gluteus_maximus": (30.0, 68.0),
}

_EQUINUS_CALF = ((0.0, 58.0), (86.0, 100.0))  # premature (late swing) and prolonged (whole stance)

# Presets. "windows" (% cycle, 60 % stance) replace the healthy bursts of a muscle on the affected side(s);
# "affected": which sides the pathology applies to: "none", "both" or "one" (the
# patient's affected_side); an unaffected side walks normally.
PRESETS = {
    "normal": {
        "description": "healthy adult walking at a comfortable speed",
        "stride_s": 1.10, "stride_cv": 0.025, "stance_pct": 60.0, "stance_sd_pct": 1.2,
        "right_offset_pct": 50.0, "stride_length_m": 1.35,
        "affected": "none", "windows": {}, "toe_walking": False, "swing_gyro_scale": 1.0,
    },
    "crouch": {
        "description": "crouch gait: prolonged knee extensor and hamstring activity through stance",
        "stride_s": 1.25, "stride_cv": 0.035, "stance_pct": 64.0, "stance_sd_pct": 1.8,
        "right_offset_pct": 50.0, "stride_length_m": 0.95,
        "affected": "both",
        "windows": {
            "vastus_lateralis": ((0.0, 52.0), (86.0, 100.0)),
            "vastus_medialis": ((0.0, 50.0), (86.0, 100.0)),
            "rectus_femoris": ((0.0, 35.0), (48.0, 70.0), (90.0, 100.0)),
            "biceps_femoris": ((0.0, 35.0), (78.0, 100.0)),
            "semitendinosus": ((0.0, 32.0), (80.0, 100.0)),
            "gluteus_maximus": ((0.0, 30.0), (94.0, 100.0)),
        },
        "toe_walking": False, "swing_gyro_scale": 0.75,
    },
    "equinus": {
        "description": "equinus (toe walking): premature calf activity in late swing, prolonged through stance",
        "stride_s": 1.00, "stride_cv": 0.035, "stance_pct": 58.0, "stance_sd_pct": 1.8,
        "right_offset_pct": 50.0, "stride_length_m": 1.0,
        "affected": "both",
        "windows": {
            "gastrocnemius_medialis": _EQUINUS_CALF,
            "gastrocnemius_lateralis": _EQUINUS_CALF,
            "soleus": ((0.0, 56.0), (88.0, 100.0)),
            "peroneus_longus": ((0.0, 52.0), (90.0, 100.0)),
            # no loading-response burst (no heel strike to control), off in terminal swing
            "tibialis_anterior": ((60.0, 85.0),),
        },
        "toe_walking": True, "swing_gyro_scale": 0.85,
    },
    "stiff-knee": {
        "description": "stiff-knee gait: rectus femoris active through swing",
        "stride_s": 1.22, "stride_cv": 0.035, "stance_pct": 62.0, "stance_sd_pct": 1.6,
        "right_offset_pct": 50.0, "stride_length_m": 1.05,
        "affected": "both",
        "windows": {
            "rectus_femoris": ((0.0, 14.0), (46.0, 100.0)),
            "vastus_lateralis": ((0.0, 30.0), (84.0, 100.0)),
        },
        "toe_walking": False, "swing_gyro_scale": 0.65,
    },
    "hemiplegic": {
        "description": "hemiplegic gait (one side, default left): equinus with stiff knee on the left, "
        "shorter affected stance, asymmetric step timing",
        "stride_s": 1.30, "stride_cv": 0.045, "stance_pct": 62.0, "stance_sd_pct": 2.0,
        "affected_stance_pct": 55.0, "unaffected_stance_pct": 68.0,
        "right_offset_pct": 45.0, "stride_length_m": 0.85,
        "affected": "one",
        "windows": {
            "gastrocnemius_medialis": _EQUINUS_CALF,
            "gastrocnemius_lateralis": _EQUINUS_CALF,
            "soleus": ((0.0, 56.0), (88.0, 100.0)),
            "tibialis_anterior": ((64.0, 84.0),),
            "rectus_femoris": ((0.0, 14.0), (46.0, 100.0)),
            "biceps_femoris": ((0.0, 30.0), (80.0, 100.0)),
        },
        "toe_walking": True, "swing_gyro_scale": 0.6,
    },
}

CONDITIONS = tuple(PRESETS)

# Variability: per-stride jitter of preset windows (healthy bursts carry their own SDs) and
# optional bursts (Di Nardo 2013 and similar).
ONSET_JITTER_SD_PCT = 2.5
PRESET_STANCE_PCT = 60.0  # the stance share preset windows are written for (Perry)
TA_MIDSTANCE_BURST_P = 0.30
MISSING_SHORT_BURST_P = 0.08
EXTRA_BURST_P = 0.05
AMPLITUDE_SIGMA = 0.22  # lognormal sigma of burst amplitude
MERGE_GAP_S = 0.015  # bursts closer than this are one activation


def _muscle_id(muscle):
    """A stable number per muscle for seeding its random streams."""
    return GAIT_MUSCLES.index(muscle) if muscle in GAIT_MUSCLES else 50 + len(muscle)


def check_condition(name):
    """Return the preset name or raise ValueError listing the presets."""
    key = str(name).strip().lower().replace("_", "-")
    if key not in PRESETS:
        raise ValueError("unknown condition %r; use one of: %s" % (name, ", ".join(CONDITIONS)))
    return key


class Burst:
    """One activation interval of one muscle on the global clock."""

    __slots__ = ("on_s", "off_s", "amp", "peak_frac")

    def __init__(self, on_s, off_s, amp, peak_frac=0.5):
        self.on_s, self.off_s, self.amp = float(on_s), float(off_s), float(amp)
        self.peak_frac = float(peak_frac)  # where in the burst the activity peaks (0..1)


class SideGait:
    """One side's gait events: foot strikes (cycle starts) and foot offs, global seconds.

    Stride i runs from foot_strike_s[i] to foot_strike_s[i + 1]; its foot off is
    foot_off_s[i]. toe_walking marks initial contact by the forefoot.
    """

    def __init__(self, side, foot_strike_s, foot_off_s, toe_walking, swing_gyro_scale):
        self.side = side
        self.foot_strike_s = np.asarray(foot_strike_s, dtype=float)
        self.foot_off_s = np.asarray(foot_off_s, dtype=float)
        self.toe_walking = bool(toe_walking)
        self.swing_gyro_scale = float(swing_gyro_scale)

    @property
    def strides(self):
        return len(self.foot_strike_s) - 1

    def pct_to_time(self, i, pct, stance_ref_pct=60.0):
        """Map % of stride i to global seconds, stance and swing mapped separately.

        Timing tables assume a stance share (stance_ref_pct); mapping 0-ref onto the true
        stance and ref-100 onto the true swing keeps activity locked to the gait events.
        """
        hs, to, hs2 = self.foot_strike_s[i], self.foot_off_s[i], self.foot_strike_s[i + 1]
        pct = np.asarray(pct, dtype=float)
        r = stance_ref_pct
        return np.where(pct <= r, hs + (to - hs) * pct / r, to + (hs2 - to) * (pct - r) / (100.0 - r))

    def cycle_pct_to_time(self, i, pct, stance_ref_pct=None):
        """% of stride i to global seconds where pct may leave 0-100 (it then runs into the
        neighbouring stride); None when that stride is not simulated. stance_ref_pct None:
        a plain fraction of the stride (how the measured table was measured)."""
        k = int(np.floor(pct / 100.0)) if pct != 100.0 else 0
        j = i + k
        if j < 0 or j >= self.strides:
            return None
        pct = pct - 100.0 * k
        if stance_ref_pct is None:
            hs, hs2 = self.foot_strike_s[j], self.foot_strike_s[j + 1]
            return float(hs + (hs2 - hs) * pct / 100.0)
        return float(self.pct_to_time(j, pct, stance_ref_pct))


class Patient:
    """A walking patient: both sides' gait and every muscle's true activation."""

    def __init__(self, condition, start_s, end_s, seed, affected_side="left"):
        self.condition = check_condition(condition)
        self.preset = PRESETS[self.condition]
        self.start_s, self.end_s, self.seed = float(start_s), float(end_s), int(seed)
        if affected_side not in SIDES:
            raise ValueError("affected_side must be left or right")
        self.affected_side = affected_side
        self.sides = self._simulate_gait()
        self._bursts = {}

    # ---- gait -------------------------------------------------------------------------
    def affected(self, side):
        aff = self.preset["affected"]
        if aff == "one":
            return side == self.affected_side
        return aff == "both"

    def _stance_pct(self, side):
        p = self.preset
        if "affected_stance_pct" in p:
            return p["affected_stance_pct"] if self.affected(side) else p["unaffected_stance_pct"]
        return p["stance_pct"]

    def _simulate_gait(self):
        p = self.preset
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 1001]))
        n = int((self.end_s - self.start_s) / (p["stride_s"] * 0.8)) + 4
        # AR(1) stride-time fluctuation (gait has persistent stride-to-stride correlation).
        phi = 0.5
        e = rng.standard_normal(n)
        ar = np.zeros(n)
        for i in range(n):
            ar[i] = (phi * ar[i - 1] if i else 0.0) + e[i] * np.sqrt(1 - phi * phi)
        stride = p["stride_s"] * (1.0 + p["stride_cv"] * ar)
        first = self.start_s - p["stride_s"] * rng.uniform(0.2, 0.9)
        hs = {"left": first + np.concatenate(([0.0], np.cumsum(stride)))}
        off = p["right_offset_pct"] / 100.0 + 0.008 * rng.standard_normal(n + 1)
        hs["right"] = hs["left"][:-1] + off[:-1] * stride
        hs["right"] = np.concatenate(([hs["right"][0] - stride[0]], hs["right"]))
        sides = {}
        for side in SIDES:
            s = hs[side]
            s = s[s <= self.end_s + 2 * p["stride_s"]]
            st_pct = self._stance_pct(side) + p["stance_sd_pct"] * rng.standard_normal(len(s) - 1)
            to = s[:-1] + np.diff(s) * st_pct / 100.0
            toe = p["toe_walking"] and self.affected(side)
            gyro = p["swing_gyro_scale"] if self.affected(side) else 1.0
            sides[side] = SideGait(side, s, to, toe, gyro)
        return sides

    def events(self, start_s=None, end_s=None):
        """{side: {"foot_strike_s": [...], "foot_off_s": [...]}} within [start_s, end_s]."""
        a = self.start_s if start_s is None else start_s
        b = self.end_s if end_s is None else end_s
        out = {}
        for side, g in self.sides.items():
            fs = g.foot_strike_s[(g.foot_strike_s >= a) & (g.foot_strike_s <= b)]
            fo = g.foot_off_s[(g.foot_off_s >= a) & (g.foot_off_s <= b)]
            out[side] = {"foot_strike_s": [round(float(x), 6) for x in fs],
                         "foot_off_s": [round(float(x), 6) for x in fo]}
        return out

    def gait_summary(self):
        p = self.preset
        st = {}
        for side, g in self.sides.items():
            d = np.diff(g.foot_strike_s)
            stance = (g.foot_off_s - g.foot_strike_s[:-1]) / d * 100.0
            st[side] = {
                "stride_time_s": {"mean": float(d.mean()), "sd": float(d.std(ddof=1))},
                "stance_pct": {"mean": float(stance.mean()), "sd": float(stance.std(ddof=1))},
                "toe_walking": g.toe_walking,
            }
        stride_s = float(np.mean(np.diff(self.sides["left"].foot_strike_s)))
        return {
            "cadence_steps_per_min": 120.0 / stride_s,
            "speed_m_s": p["stride_length_m"] / stride_s,
            "sides": st,
        }

    # ---- muscles ----------------------------------------------------------------------
    def windows_pct(self, side, muscle):
        """Mean activation windows (% cycle) of a muscle on a side: the preset's, or the
        healthy bursts' mean on/off with this side's bias (off > 100: into the next cycle)."""
        return tuple((on, off) for on, _a, off, _b, _p, _ref in self._burst_specs(side, muscle))

    def _burst_specs(self, side, muscle):
        """((on, on_sd, off, off_sd, share, stance_ref_pct), ...) for a muscle on a side.

        Healthy bursts keep the measured fraction of the stride (the recording's stance,
        63.7 %, is close to this patient's); preset windows are written for 60 % stance and
        map stance and swing separately."""
        muscle = check_muscle(muscle)
        if self.affected(side) and muscle in self.preset["windows"]:
            specs = []
            for on, off in self.preset["windows"][muscle]:
                short_inside = 0.0 < on and off < 100.0 and (off - on) < 25.0
                specs.append((on, 0.0 if on <= 0.0 else ONSET_JITTER_SD_PCT, off,
                              0.0 if off >= 100.0 else ONSET_JITTER_SD_PCT,
                              1.0 - MISSING_SHORT_BURST_P if short_inside else 1.0, PRESET_STANCE_PCT))
            return tuple(specs)
        # This side's own, fixed timing bias per burst: the sides differ like a real person's.
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 4000 + SIDES.index(side), _muscle_id(muscle)]))
        specs = []
        for on, on_sd, off, off_sd, share in normal_bursts(muscle):
            bias = SIDE_BIAS_SD_PCT * rng.standard_normal()
            specs.append((round(on + bias, 2), on_sd, round(off + bias, 2), off_sd, share, None))
        return tuple(specs)

    def bursts(self, side, muscle):
        """True activation bursts (merged across stride boundaries), cached."""
        muscle = check_muscle(muscle)
        key = (side, muscle)
        if key not in self._bursts:
            self._bursts[key] = self._make_bursts(side, muscle)
        return self._bursts[key]

    def _make_bursts(self, side, muscle):
        g = self.sides[side]
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 2000 + SIDES.index(side), _muscle_id(muscle)]))
        specs = self._burst_specs(side, muscle)
        raw = []
        for i in range(g.strides):
            for on_m, on_sd, off_m, off_sd, share, ref in specs:
                if share < 1.0 and rng.random() >= share:
                    continue  # a burst this stride does without (healthy variability)
                on = on_m + on_sd * rng.standard_normal() if on_sd else on_m
                of = off_m + off_sd * rng.standard_normal() if off_sd else off_m
                if of - on < 2.0:
                    continue
                t_on, t_off = g.cycle_pct_to_time(i, on, ref), g.cycle_pct_to_time(i, of, ref)
                if t_on is not None and t_off is not None:
                    raw.append((t_on, t_off))
            if muscle == "tibialis_anterior" and rng.random() < TA_MIDSTANCE_BURST_P:
                c = rng.uniform(22.0, 35.0)
                h = rng.uniform(3.0, 6.0)
                raw.append((float(g.pct_to_time(i, c - h)), float(g.pct_to_time(i, c + h))))
            if rng.random() < EXTRA_BURST_P:
                c = rng.uniform(5.0, 95.0)
                h = rng.uniform(2.0, 4.0)
                raw.append((float(g.pct_to_time(i, max(c - h, 0))), float(g.pct_to_time(i, min(c + h, 100)))))
        raw.sort()
        merged = []
        for on, of in raw:
            if merged and on <= merged[-1][1] + MERGE_GAP_S:
                merged[-1][1] = max(merged[-1][1], of)
            else:
                merged.append([on, of])
        amps = np.exp(AMPLITUDE_SIGMA * rng.standard_normal(len(merged)) - 0.5 * AMPLITUDE_SIGMA ** 2)
        base = PEAK_RMS_UV.get(muscle, 100.0)
        if self.affected(side) and self.preset["windows"]:
            base *= 0.8  # weaker, spastic muscle
        peaks = rng.uniform(0.3, 0.7, len(merged))
        return [Burst(on, of, base * a, pk) for (on, of), a, pk in zip(merged, amps, peaks)]

    def intervals_s(self, side, muscle, start_s=None, end_s=None):
        """Merged true activation intervals [[on_s, off_s], ...] overlapping [start_s, end_s]."""
        a = self.start_s if start_s is None else start_s
        b = self.end_s if end_s is None else end_s
        return [[b_.on_s, b_.off_s] for b_ in self.bursts(side, muscle) if b_.off_s > a and b_.on_s < b]

    def stride_intervals(self, side, muscle, start_s=None, end_s=None):
        """Per stride (foot strike to next foot strike, wholly inside [start_s, end_s]):
        {"start_s", "end_s", "active_s": [[on, off], ...] clipped to the stride}."""
        a = self.start_s if start_s is None else start_s
        b = self.end_s if end_s is None else end_s
        g = self.sides[side]
        bursts = self.bursts(side, muscle)
        ons = np.array([x.on_s for x in bursts])
        offs = np.array([x.off_s for x in bursts])
        out = []
        for i in range(g.strides):
            s0, s1 = g.foot_strike_s[i], g.foot_strike_s[i + 1]
            if s0 < a or s1 > b:
                continue
            sel = (offs > s0) & (ons < s1)
            act = [[round(max(float(x), s0), 6), round(min(float(y), s1), 6)] for x, y in zip(ons[sel], offs[sel])]
            out.append({"start_s": round(float(s0), 6), "end_s": round(float(s1), 6), "active_s": act})
        return out
