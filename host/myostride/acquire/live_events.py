"""Gait events while recording: foot strike / foot off from a shank gyroscope or footswitches.

The same detectors the analysis uses (analysis/events.py), run on what has arrived so far:
footswitch edges give an event the moment they arrive; the gyroscope detector needs the
signal around each event (the swing peak and its neighbouring minima), so it runs every
RUN_EVERY_S on the last WINDOW_S seconds and reports only events that are SETTLE_S old (no
later sample can move them) and not reported before. Times are session seconds.
"""

import numpy as np

WINDOW_S = 8.0      # gyroscope history the detector sees (several strides)
RUN_EVERY_S = 0.5
SETTLE_S = 1.0      # an event this old is final: its swing peak and minima have all arrived
MIN_HISTORY_S = 3.0  # the sagittal axis is found on at least this much walking
SAME_EVENT_S = 0.25  # two detections closer than this are one event


class GyroEvents:
    """Live foot strike / foot off for one side from a shank gyroscope (n, 3) in deg/s."""

    def __init__(self):
        self.t = np.zeros(0)
        self.g = np.zeros((0, 3))
        self.last_run_s = None
        self.axis = None
        self.sign = None
        self.reported = {"foot_strike_s": [], "foot_off_s": []}

    def add(self, t_s, gyro_dps):
        """Append a block; returns [(t_s, "foot_strike_s"|"foot_off_s")] that became final."""
        t_s = np.asarray(t_s, dtype=np.float64)
        if len(t_s) == 0:
            return []
        if len(self.t) and t_s[0] <= self.t[-1]:
            return []  # a late (resent) block: the live detector keeps to arrival order
        self.t = np.concatenate([self.t, t_s])
        self.g = np.concatenate([self.g, np.asarray(gyro_dps, dtype=np.float64).reshape(len(t_s), -1)[:, :3]])
        keep = self.t >= self.t[-1] - WINDOW_S
        self.t, self.g = self.t[keep], self.g[keep]
        now = self.t[-1]
        if self.last_run_s is not None and now - self.last_run_s < RUN_EVERY_S:
            return []
        if now - self.t[0] < MIN_HISTORY_S:
            return []
        self.last_run_s = now
        from ..analysis.events import events_from_gyro, sagittal_axis

        if self.axis is None:
            fs = 1.0 / float(np.median(np.diff(self.t)))
            self.axis, self.sign, _y = sagittal_axis(self.g, fs)
        found = events_from_gyro(self.t, self.g, axis=self.axis, sign=self.sign)
        out = []
        for key in ("foot_strike_s", "foot_off_s"):
            for te in found[key]:
                if te > now - SETTLE_S:
                    continue
                if any(abs(te - r) < SAME_EVENT_S for r in self.reported[key][-4:]):
                    continue
                if self.reported[key] and te < self.reported[key][-1]:
                    continue  # older than one already reported: it was outside an earlier window's reach
                self.reported[key].append(te)
                out.append((te, key))
        return sorted(out)


class FootswitchEvents:
    """Live foot strike (first switch closes) / foot off (last switch opens) for one foot."""

    def __init__(self):
        self.pressed = set()

    def add(self, t_s, edges):
        """edges (n, 2): input, level at times t_s; returns [(t_s, key)] in order."""
        out = []
        for t, (inp, level) in sorted(zip(np.asarray(t_s, dtype=np.float64), np.asarray(edges).tolist())):
            was = bool(self.pressed)
            if level:
                self.pressed.add(inp)
            else:
                self.pressed.discard(inp)
            if not was and self.pressed:
                out.append((float(t), "foot_strike_s"))
            elif was and not self.pressed:
                out.append((float(t), "foot_off_s"))
        return out
