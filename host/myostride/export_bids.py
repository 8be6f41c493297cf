"""EMG-BIDS export (BIDS >= 1.11): a session or a lab C3D as a BIDS EMG dataset, losslessly.

Layout of one trial (entities: subject, optional session, task, run, and for myostride sessions
`recording-nodeNN`):

    DIR/dataset_description.json, README, participants.tsv (participant_id only)
    DIR/sub-S/[ses-X/]emg/sub-S_[ses-X_]task-walk_run-1_recording-node01_emg.bdf (+ _emg.json,
        _channels.tsv, _events.tsv, _events.json)

Why one BDF+ per node: every node samples on its own crystal. One file for all muscles would
need one clock, i.e. resampling (values change) or placing samples in the nearest slot of a
common grid (drift of tens of ppm then drops or duplicates a sample every few seconds). BIDS
names the `recording` entity for exactly this case (separate instruments, own start times). Each
file holds its node's ADC codes as the BDF digital values, sample i = the node's sample k0 + i,
with the physical range set from the node's scale (uV = code x nv_per_lsb / 1000). Its events
(foot strike/off, radio gaps, lead-off) are mapped onto that node's own sample clock through the
session's clock model, so EMG-to-gait-event timing is exact within every file; the sidecar
carries the node's session-time mapping for aligning files with each other.

Why BDF (24-bit) and not EDF (16-bit): the ADC codes use the whole int16 range, so only BDF has
room for a value that is not a sample. Samples the radio lost (explicit gaps) and the padding to
whole data records hold GAP_CODE (outside the ADC's range) and are listed in events.tsv and the
BDF+ annotations ("gap", "padding"): nothing is filled in with plausible values.

A C3D has one clock for all its channels, so it becomes one file (no recording entity). Its
values are floating point: they are quantised to 24 bits over each channel's range (error at
most half a step, stated in the sidecar).

Writing is all-or-nothing: files are built in a temporary folder beside their destination and
moved into place only when every one is complete; an existing subject/session/task/run is refused
before anything is written.
"""

import contextlib
import json
import math
import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np

from .errors import UserError

BIDS_VERSION = "1.11.0"
TASK = "walk"
GAP_CODE = -40000            # not an int16 ADC code: marks samples that do not exist
CODE_RANGE = (-40000, 40000)  # digital range of session files (int16 codes + the gap marker)
C3D_DIGITAL = 8388607         # 24-bit symmetric range for quantised C3D values
RECORD_S = 1.0                # BDF data record length
EVENT_KEYS = (("foot_strike_s", "foot_strike"), ("foot_off_s", "foot_off"))
SENIAM_TEXT = ("SENIAM recommendations (seniam.org, Hermens et al. 2000): bipolar surface electrodes "
               "of at most 10 mm, 20 mm inter-electrode distance, on the line between the distal motor "
               "point and the tendon, as in the myostride electrode placement guide "
               "(hardware/electrode-placement.md)")
EVENTS_JSON = {
    "onset": {"Description": "Start of the event on this file's own sample clock", "Units": "s"},
    "duration": {"Description": "Length of the event (0 for instants)", "Units": "s"},
    "trial_type": {
        "Description": "What happened",
        "Levels": {
            "foot_strike_left": "Left initial contact", "foot_off_left": "Left toe off",
            "foot_strike_right": "Right initial contact", "foot_off_right": "Right toe off",
            "gap": "Samples the node took but the radio lost (resends did not recover them); the data "
                   "file holds the gap marker there, not samples",
            "lead_off": "The node's electrode lead-off detector reported poor skin contact",
            "padding": "Fill to a whole BDF data record after the last sample; not data",
        },
    },
    "source": {"Description": "Where the gait events came from (stored, imu, footswitch, c3d)"},
}


class BidsTarget:
    """Where one trial goes: dataset root and BIDS labels (validated, alphanumeric)."""

    def __init__(self, root, subject, session=None, task=TASK, run=None):
        self.root = Path(root)
        self.subject = label_or_fail(subject, "--subject")
        self.session = label_or_fail(session, "--bids-session") if session else None
        self.task = label_or_fail(task, "--task")
        self.run = run

    def folder(self):
        parts = ["sub-" + self.subject] + (["ses-" + self.session] if self.session else []) + ["emg"]
        return Path(*parts)

    def prefix(self):
        """sub-S[_ses-X]_task-T: the part every run of this subject/session/task shares."""
        ents = ["sub-" + self.subject] + (["ses-" + self.session] if self.session else [])
        return "_".join(ents + ["task-" + self.task])

    def stem(self, recording=None):
        ents = [self.prefix(), "run-%d" % self.run]
        if recording:
            ents.append("recording-" + recording)
        return "_".join(ents)


def label_or_fail(text, option):
    """BIDS labels are letters and digits only: "MS-DEMO-0001" -> "MSDEMO0001"."""
    label = re.sub(r"[^A-Za-z0-9]", "", str(text or ""))
    if not label:
        raise UserError("%s %r has no letters or digits; give a pseudonymous id such as P001" % (option, text))
    return label


# ---------------------------------------------------------------- building one trial's files

def session_trial(session, analysis=None, board=None, clinical=None, powerline_hz=None):
    """[file specs] for a myostride Session: one per node (see module docstring)."""
    from . import __version__

    quality = _quality_by_label(analysis)
    events = _events_of(analysis)
    event_source = ((analysis or {}).get("events") or {}).get("source")
    front_end = (board or {}).get("front_end") or {}
    config = session.meta.get("config") or {}
    nodes = {n["node_id"]: n for n in session.meta.get("nodes") or []}
    specs = []
    for ch in session.channels:
        node = nodes.get(ch.node_id, {})
        nv = float(node.get("nv_per_lsb") or (ch.status or {}).get("nv_per_lsb") or 0)
        if not nv or ch.node_k is None or len(ch.node_k) == 0:
            continue
        k = np.asarray(ch.node_k, dtype=np.int64)
        codes = np.rint(np.asarray(ch.uv) * 1000.0 / nv).astype(np.int64)
        if not np.array_equal(codes * nv / 1000.0, np.asarray(ch.uv)):
            raise UserError("node %d's samples are not whole multiples of its scale (%g nV): the session is "
                            "not raw ADC codes; export C3D or CSV instead" % (ch.node_id, nv))
        fs = float(ch.fs_hz)
        n = int(k[-1] - k[0] + 1)
        digital = np.full(n, GAP_CODE, dtype=np.int64)
        digital[k - k[0]] = codes
        # Session seconds -> this file's seconds, through the node's own sample clock.
        t = np.asarray(ch.t_s, dtype=np.float64)

        def to_file_s(t_session, t=t, k=k, fs=fs):
            return (np.interp(t_session, t, k.astype(np.float64)) - k[0]) / fs

        rows = []
        holes = np.flatnonzero(np.diff(k) > 1)
        for j in holes:
            rows.append(((k[j] + 1 - k[0]) / fs, (k[j + 1] - k[j] - 1) / fs, "gap", "n/a"))
        for a, b in ch.lead_off or []:
            a, b = max(a, t[0]), min(b, t[-1])
            if b > a:
                fa, fb = to_file_s(a), to_file_s(b)
                rows.append((fa, fb - fa, "lead_off", "n/a"))
        dropped = 0
        for side in ("left", "right"):
            for key, name in EVENT_KEYS:
                for te in events.get(side, {}).get(key) or []:
                    if t[0] <= te <= t[-1]:
                        rows.append((float(to_file_s(te)), 0.0, "%s_%s" % (name, side), event_source or "n/a"))
                    else:
                        dropped += 1
        q = quality.get(ch.label) or {}
        rec_name = "node%02d" % int(ch.node_id)
        specs.append({
            "recording": rec_name,
            "fs_hz": fs,
            "channels": [{
                "name": rec_name, "digital": digital, "digital_range": CODE_RANGE,
                "physical_range": (CODE_RANGE[0] * nv / 1000.0, CODE_RANGE[1] * nv / 1000.0),
                "muscle": ch.muscle, "side": ch.side, "group": rec_name,
                "low_cutoff": config.get("highpass_hz") or "n/a",
                "status": q,
                "description": "node %d (%s), %s %s" % (ch.node_id, node.get("name") or "?", ch.side or "",
                                                        ch.muscle or "unmapped"),
            }],
            "events": rows,
            "events_outside": dropped,
            "sidecar": _session_sidecar(session, node, ch, fs, n, front_end, board, clinical, powerline_hz,
                                        __version__, t, k),
        })
    if not specs:
        raise UserError("the session has no EMG samples with a known scale to export")
    return specs


def c3d_trial(recording, analysis=None, clinical=None, powerline_hz=None):
    """[one file spec] for a lab C3D (one clock for all channels): values quantised to 24 bits."""
    from . import __version__

    quality = _quality_by_label(analysis)
    events = _events_of(analysis) if analysis else (recording.events or {})
    source = (((analysis or {}).get("events") or {}).get("source")) or "c3d"
    rates = sorted(set(ch.fs_hz for ch in recording.emg))
    if len(rates) != 1:
        raise UserError("the C3D's EMG channels have different rates (%s Hz); BIDS export needs one" % rates)
    fs = rates[0]
    t0 = min(float(ch.t_s[0]) for ch in recording.emg)
    n = int(round((max(float(ch.t_s[-1]) for ch in recording.emg) - t0) * fs)) + 1
    channels = []
    for ch in recording.emg:
        idx = np.rint((ch.t_s - t0) * fs).astype(np.int64)
        peak = float(np.max(np.abs(ch.uv))) if len(ch.uv) else 1.0
        phys_max = _round_up_3(peak * 1.0001 or 1.0)
        step = phys_max / C3D_DIGITAL
        # Values stay below phys_max / 1.0001, so the range's minimum marks samples the file lacks.
        digital = np.full(n, -C3D_DIGITAL, dtype=np.int64)
        digital[idx] = np.rint(ch.uv / step).astype(np.int64)
        channels.append({
            "name": _safe_channel_name(ch.label), "digital": digital,
            "digital_range": (-C3D_DIGITAL, C3D_DIGITAL),
            "physical_range": (-phys_max, phys_max),
            "muscle": ch.muscle, "side": ch.side, "group": "n/a", "low_cutoff": "n/a",
            "status": quality.get(ch.label) or {},
            "description": "C3D channel %r (%s); quantised to 24 bits, step %.6g uV" % (ch.label, ch.units_note, step),
        })
    rows = []
    for side in ("left", "right"):
        for key, name in EVENT_KEYS:
            for te in (events.get(side) or {}).get(key) or []:
                if t0 <= te <= t0 + (n - 1) / fs:
                    rows.append((te - t0, 0.0, "%s_%s" % (name, side), source))
    sidecar = {
        "TaskName": TASK,
        "TaskDescription": "Walking trial imported from a gait laboratory C3D file",
        "EMGChannelCount": len(channels),
        "EMGReference": "n/a (not recorded in the C3D)",
        "EMGPlacementScheme": "Other",
        "EMGPlacementSchemeDescription": "Not recorded in the C3D file",
        "SamplingFrequency": fs,
        "PowerLineFrequency": powerline_hz or "n/a",
        "HardwareFilters": "n/a",
        "SoftwareFilters": "n/a",
        "RecordingType": "continuous",
        "RecordingDuration": n / fs,
        "SoftwareVersions": "myostride %s (export)" % __version__,
        "MyostrideSource": {"kind": "c3d", "file": os.path.basename(recording.path),
                            "file_time_of_first_sample_s": t0,
                            "quantisation": "24-bit, at most half a step of error per channel"},
    }
    _electrodes_into(sidecar, clinical)
    return [{"recording": None, "fs_hz": fs, "channels": channels, "events": rows, "events_outside": 0,
             "sidecar": sidecar}]


def _session_sidecar(session, node, ch, fs, n, front_end, board, clinical, powerline_hz, version, t, k):
    config = session.meta.get("config") or {}
    fw = node.get("firmware")
    fw = ".".join(str(x) for x in fw) if isinstance(fw, (list, tuple)) else fw
    software = {}
    if config.get("highpass_hz"):
        software["Node high-pass (firmware, fixed-point)"] = {"Half amplitude cutoff (Hz)": config["highpass_hz"]}
    if config.get("powerline_hz"):
        software["Node powerline removal (firmware)"] = {"Frequency (Hz)": config["powerline_hz"]}
    mains = powerline_hz or config.get("powerline_hz") or "n/a"  # the node removes hum at the mains frequency
    sidecar = {
        "TaskName": TASK,
        "TaskDescription": "Walking trial recorded with myostride wireless surface-EMG nodes",
        "EMGChannelCount": 1,
        "EMGReference": "bipolar" if "bipolar" in str(front_end.get("detection_mode", "")) else "n/a",
        "EMGGround": "the node's right-leg-drive electrode (its site is not recorded)"
        if "right-leg-drive" in str(front_end.get("detection_mode", "")) else "n/a",
        "EMGPlacementScheme": "Other",
        "EMGPlacementSchemeDescription": SENIAM_TEXT,
        "SamplingFrequency": fs,
        "PowerLineFrequency": mains,
        "HardwareFilters": ({"Front end analog filters": {"Description": front_end["analog_filters"]}}
                            if front_end.get("analog_filters") else "n/a"),
        "SoftwareFilters": software or "n/a",
        "RecordingType": "continuous",
        "RecordingDuration": n / fs,
        "Manufacturer": "myostride (open hardware)",
        "ManufacturersModelName": node.get("board") or "n/a",
        "SoftwareVersions": "node firmware %s; myostride host %s" % (fw or "?", version),
        "DeviceSerialNumber": "%s %s" % (node.get("name") or "", node.get("address") or ""),
    }
    if front_end.get("gain"):
        sidecar["Gain"] = front_end["gain"]
    _electrodes_into(sidecar, clinical)
    sidecar["MyostrideClock"] = {
        "Description": "session time (s) of this file's samples; file sample i is node sample first_node_sample + i",
        "first_node_sample": int(k[0]),
        "session_time_of_first_sample_s": float(t[0]),
        "session_time_of_last_sample_s": float(t[-1]),
        "node_skew_ppm": (node.get("clock") or {}).get("skew_ppm"),
        "simulated": session.meta.get("backend") == "sim",
    }
    return sidecar


def _electrodes_into(sidecar, clinical):
    el = (clinical or {}).get("electrodes") or {}
    if el.get("material"):
        sidecar["ElectrodeMaterial"] = el["material"]
    if el.get("type"):
        sidecar["ElectrodeType"] = el["type"]
    if el.get("inter_electrode_distance_mm"):
        sidecar["InterelectrodeDistance"] = el["inter_electrode_distance_mm"]
    if el.get("skin_preparation"):
        sidecar["SkinPreparation"] = el["skin_preparation"]


def _quality_by_label(analysis):
    return {c.get("label"): c.get("quality") or {} for c in (analysis or {}).get("channels") or []}


def _events_of(analysis):
    ev = (analysis or {}).get("events") or {}
    return {side: ev[side] for side in ("left", "right") if isinstance(ev.get(side), dict)}


def _round_up_3(x):
    """Round up to 3 significant digits: a physical range that fits BDF's 8-character field exactly."""
    e = math.floor(math.log10(x)) - 2
    return math.ceil(x / 10 ** e) * 10 ** e


def _safe_channel_name(label):
    return re.sub(r"\s+", "_", str(label).strip())[:16] or "EMG"


# ---------------------------------------------------------------- writing

def write_trial(target, specs, participant=None):
    """Write one trial's files into target.root; returns [written paths]. All or nothing."""
    root = target.root
    if root.exists() and not root.is_dir():
        raise UserError("--out %s is a file; give a folder for the BIDS dataset" % root)
    probe = root if root.exists() else _existing_parent(root)
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UserError("cannot write to %s; choose a folder you can write to with --out" % probe)
    _check_dataset(root)
    folder = root / target.folder()
    if target.run is None:
        target.run = _next_run(folder, target)
    taken = sorted(folder.glob(target.stem() + "_*")) if folder.exists() else []
    if taken:
        raise UserError("%s already has sub-%s%s task-%s run-%d (%s); give another --run or --bids-session"
                        % (root, target.subject, " ses-" + target.session if target.session else "",
                           target.task, target.run, taken[0].name))
    fresh = not root.exists()
    stage_parent = root.parent if fresh else root
    try:
        stage_parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=".myostride-bids-", dir=stage_parent))
    except OSError as exc:
        raise UserError("cannot write to %s (%s); choose another --out" % (stage_parent, exc.strerror or exc))
    try:
        rel = []
        out = stage / target.folder()
        out.mkdir(parents=True)
        for spec in specs:
            stem = target.stem(spec["recording"])
            _write_bdf(out / (stem + "_emg.bdf"), spec, target)
            _write_json(out / (stem + "_emg.json"), spec["sidecar"])
            _write_channels(out / (stem + "_channels.tsv"), spec)
            _write_events(out / (stem + "_events.tsv"), spec["events"])
            _write_json(out / (stem + "_events.json"), EVENTS_JSON)
            rel += [target.folder() / (stem + s) for s in
                    ("_emg.bdf", "_emg.json", "_channels.tsv", "_events.tsv", "_events.json")]
        participants = _participants(root, target.subject)
        _write_text(stage / "participants.tsv", participants)
        if fresh:
            _write_json(stage / "dataset_description.json", _description())
            _write_json(stage / "participants.json", {"participant_id": {
                "Description": "Pseudonymous patient id (from the clinical file or --subject); nothing else "
                               "about the person is exported"}})
            _write_text(stage / "README", _readme())
            os.rename(stage, root)
            return [root / r for r in rel]
        # An existing dataset: move the new files in (none of them exists), then participants.tsv;
        # if a move fails, the ones already moved are taken out again.
        made = [d for d in [root / target.folder()] + list((root / target.folder()).parents)
                if d != root and root in d.parents and not d.exists()]  # deepest first
        moved = []
        try:
            (root / target.folder()).mkdir(parents=True, exist_ok=True)
            for r in rel:
                os.rename(stage / r, root / r)
                moved.append(root / r)
            os.replace(stage / "participants.tsv", root / "participants.tsv")
        except OSError:
            for m in moved:
                with contextlib.suppress(OSError):
                    m.unlink()
            for d in made:
                with contextlib.suppress(OSError):
                    d.rmdir()
            raise
        return [root / r for r in rel]
    except OSError as exc:
        raise UserError("writing the BIDS dataset in %s failed (%s); nothing was changed there"
                        % (root, exc.strerror or exc))
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def read_board(name):
    """The board definition (hardware/boards/NAME.json) a session's nodes ran on, or None if absent."""
    from .boards import boards_dir

    d = boards_dir()
    try:
        data = json.loads((d / (str(name) + ".json")).read_text(encoding="utf-8")) if d else None
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _existing_parent(path):
    p = Path(os.path.abspath(path))
    while not p.exists():
        p = p.parent
    return p


def _check_dataset(root):
    if not root.exists():
        return
    desc = root / "dataset_description.json"
    if not desc.exists():
        if any(root.iterdir()):
            raise UserError("%s exists and is not a BIDS dataset (no dataset_description.json); give an empty "
                            "or new folder, or an existing BIDS dataset" % root)
        raise UserError("%s exists but is empty; give a new folder name (it is created) or a BIDS dataset" % root)
    try:
        json.loads(desc.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError("%s is not readable JSON (%s); repair it or choose another --out" % (desc, exc))


def _next_run(folder, target):
    """The lowest run number not used by this subject/session/task (several trials, no overwriting)."""
    run = 1
    while folder.exists() and any(folder.glob(target.prefix() + "_run-%d_*" % run)):
        run += 1
    return run


def _participants(root, subject):
    path = root / "participants.tsv"
    rows = []
    if path.exists():
        lines = path.read_text(encoding="utf-8").splitlines()
        if not lines or lines[0].split("\t")[0] != "participant_id":
            raise UserError("%s has no participant_id column; repair it before adding trials" % path)
        header = lines[0]
        rows = [ln for ln in lines[1:] if ln.strip()]
    else:
        header = "participant_id"
    ncols = len(header.split("\t"))
    if not any(r.split("\t")[0] == "sub-" + subject for r in rows):
        rows.append("\t".join(["sub-" + subject] + ["n/a"] * (ncols - 1)))
    return "\n".join([header] + rows) + "\n"


def _description():
    from . import __version__

    return {"Name": "myostride surface-EMG walking trials", "BIDSVersion": BIDS_VERSION, "DatasetType": "raw",
            "GeneratedBy": [{"Name": "myostride", "Version": __version__,
                             "Description": "myostride export --format bids"}]}


def _readme():
    return ("Surface EMG of walking trials exported by myostride (`myostride export --format bids`).\n\n"
            "Each myostride node is its own instrument with its own clock, so each has its own file "
            "(recording-nodeNN). BDF digital values are the nodes' ADC codes; -40000 marks samples that "
            "do not exist (radio gaps, padding), listed in each *_events.tsv. Events are on each file's "
            "own sample clock.\n")


def _write_bdf(path, spec, target):
    try:
        from edfio import Bdf, BdfSignal, EdfAnnotation, Patient
    except ImportError:
        raise UserError("BIDS export needs the edfio package: pip install 'myostride[bids]'")

    fs = spec["fs_hz"]
    per_record = int(round(fs * RECORD_S))
    if abs(per_record - fs * RECORD_S) > 1e-9:
        raise UserError("a rate of %g Hz has no whole number of samples per second; BDF needs one" % fs)
    n = len(spec["channels"][0]["digital"])
    padded = int(math.ceil(n / per_record)) * per_record
    signals = []
    for ch in spec["channels"]:
        d = np.full(padded, ch["digital_range"][0], dtype=np.int32)
        d[:n] = ch["digital"]
        signals.append(BdfSignal.from_digital(
            d, fs, label=ch["name"], transducer_type="surface EMG electrodes", physical_dimension="uV",
            physical_range=ch["physical_range"], digital_range=ch["digital_range"],
            prefiltering=("HP:%sHz" % ch["low_cutoff"]) if ch["low_cutoff"] != "n/a" else ""))
    rows = list(spec["events"])
    if padded > n:
        rows.append((n / fs, (padded - n) / fs, "padding", "n/a"))
        spec["events"] = rows
    annotations = [EdfAnnotation(float(on), float(dur) if dur else None, text) for on, dur, text, _src in sorted(rows)]
    bdf = Bdf(signals, patient=Patient(code=target.subject), data_record_duration=RECORD_S, annotations=annotations)
    bdf.write(str(path))


def _write_channels(path, spec):
    cols = ["name", "type", "units", "description", "sampling_frequency", "signal_electrode", "reference",
            "group", "target_muscle", "placement_scheme", "placement_description", "low_cutoff", "high_cutoff",
            "status", "status_description"]
    lines = ["\t".join(cols)]
    for ch in spec["channels"]:
        q = ch["status"]
        if "usable" in q:
            status = "good" if q["usable"] else "bad"
            why = "; ".join(q.get("reasons") or []) or ("n/a" if q["usable"] else "unusable (analysis)")
        else:
            status, why = "n/a", "n/a"
        muscle = " ".join(x for x in (ch["side"], (ch["muscle"] or "").replace("_", " ")) if x) or "n/a"
        row = [ch["name"], "EMG", "uV", ch["description"], "%g" % spec["fs_hz"], ch["name"],
               "bipolar" if spec["recording"] else "n/a", str(ch["group"]), muscle,
               "other", "SENIAM" if spec["recording"] else "n/a", str(ch["low_cutoff"]), "n/a", status, why]
        lines.append("\t".join(_tsv_cell(c) for c in row))
    _write_text(path, "\n".join(lines) + "\n")


def _write_events(path, rows):
    lines = ["onset\tduration\ttrial_type\tsource"]
    for on, dur, kind, src in sorted(rows):
        lines.append("%.6f\t%.6f\t%s\t%s" % (on, dur, kind, src))
    _write_text(path, "\n".join(lines) + "\n")


def _tsv_cell(text):
    return str(text).replace("\t", " ").replace("\n", " ") or "n/a"


def _write_json(path, data):
    _write_text(path, json.dumps(data, indent=2) + "\n")


def _write_text(path, text):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
