"""Find the heel, toe and pelvis markers of a C3D file under whatever names the lab used.

Marker sets name the same landmark differently: Plug-in Gait `LHEE`/`LTOE`/`SACR`, a subject
prefix (`Matt:LHEE`), Codamotion `L.Heel`/`L.Toe`, free text (`l heel`), IOR/CAST names
(`R_FCC` calcaneus, `RCAL`, `RCA`, metatarsal heads `RMT1`, `RMT5`, `RVMH`, `RFM2`), pelvis
`LASI`/`L.ASIS`/`LASIS`, `LPSI`/`L.PSIS`, `SACR`/`SACRUM`. A name is matched only when, after
the subject prefix and a side, the *whole* rest is a known landmark word: `LTOO`/`LTOA` (model
axes) or `RT01` (a cluster) are not toes.
"""

import re

HEEL_WORDS = ("hee", "heel", "hel", "cal", "ca", "fcc", "calc", "calcaneus", "calcn", "hl", "hee1", "heel1")
# Front of the foot, best first: a toe / second metatarsal marker, then the first, then the fifth.
TOE_WORDS = (("toe", "toes", "ttoe", "mt2", "fm2", "mh2", "met2", "toe2", "2mt", "mtp2", "mth2"),
             ("mt1", "fm1", "mh1", "met1", "imh", "1mt", "mtp1", "mth1", "hallux", "hlx", "mt1h"),
             ("mt5", "fm5", "mh5", "met5", "vmh", "5mt", "mtp5", "mth5", "mt5h", "meta5"))
ASIS_WORDS = ("asi", "asis", "ias", "ant sup iliac", "asi1")
PSIS_WORDS = ("psi", "psis", "ips", "post sup iliac", "psi1")
SACRUM_WORDS = ("sacr", "sacrum", "sac", "sa", "s1", "mpsis", "midpsis")
_SIDE = {"l": "left", "left": "left", "lt": "left", "r": "right", "right": "right", "rt": "right"}


def _words(label):
    """Lower-case text of a label without a subject prefix ("Matt:LHEE" -> "lhee"), separators as spaces."""
    text = str(label).split(":")[-1]
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)  # "LHeel" stays glued below; "lHeel" splits
    return re.sub(r"[\s_\-.]+", " ", text.strip().lower()).strip()


def side_and_word(label):
    """(side or None, landmark word) of a marker label: "L.Heel" -> ("left", "heel")."""
    text = _words(label)
    parts = text.split(" ")
    if len(parts) > 1 and parts[0] in _SIDE:
        return _SIDE[parts[0]], " ".join(parts[1:])
    if len(parts) > 1 and parts[-1] in _SIDE:
        return _SIDE[parts[-1]], " ".join(parts[:-1])
    compact = text.replace(" ", "")
    for prefix in ("left", "right", "l", "r"):
        if compact.startswith(prefix) and len(compact) > len(prefix):
            return _SIDE[prefix], compact[len(prefix):]
    return None, compact


def find_markers(labels):
    """{"left"|"right": {"heel": [i..], "toe": [i..]}, "pelvis": {"asis": [i..], "psis": [i..], "sacrum": [i..]}}.

    Indices into `labels`, best candidate first (toes: toe/second metatarsal, then first, then
    fifth metatarsal head); the caller picks the first one that holds data (a marker set may
    declare a heel that was never tracked). A side appears only with both a heel and a toe name.
    """
    feet = {"left": {"heel": [], "toe": []}, "right": {"heel": [], "toe": []}}
    toes = {"left": [], "right": []}
    pelvis = {"asis": [], "psis": [], "sacrum": []}
    for i, label in enumerate(labels):
        side, word = side_and_word(label)
        plain = word.replace(" ", "")
        if side is None:
            if plain in SACRUM_WORDS or _words(label).replace(" ", "") in SACRUM_WORDS:
                pelvis["sacrum"].append(i)
            continue
        if plain in HEEL_WORDS:
            feet[side]["heel"].append(i)
        for rank, words in enumerate(TOE_WORDS):
            if plain in words:
                toes[side].append((rank, i))
        if word in ASIS_WORDS or plain in ASIS_WORDS:
            pelvis["asis"].append(i)
        elif word in PSIS_WORDS or plain in PSIS_WORDS:
            pelvis["psis"].append(i)
        elif plain in ("sacwand", "sacrumwand"):
            pelvis["sacrum"].append(i)
    for side in toes:
        feet[side]["toe"] = [i for _, i in sorted(toes[side])]
    out = {side: f for side, f in feet.items() if f["heel"] or f["toe"]}
    out["pelvis"] = pelvis
    return out
