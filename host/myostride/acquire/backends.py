"""The one radio backend object, resolved once per command (like bleak's platform backend).

    backend = resolve_backend(args.backend, world=args.world, hci=args.hci)
    found = await scan(3.0, backend)
    rec = Recorder(out, mapping, 30, backend=backend)

Everything that differs between real radios and the simulator lives here: the
bleak scanner/client classes, the extra device arguments (the world file), the
host clock the recorder stamps frames with, and what session.json says about
the radio stack. This module is the only place that compares backend names;
the rest of the host receives a Backend and asks it.
"""

from pathlib import Path

from ..clock import monotonic_us
from ..errors import UserError

NAMES = ("ble", "sim", "bumble")
DEFAULT_NAME = "ble"  # what a user typing a command gets: real nodes


class Backend:
    """One radio backend, resolved once. Subclasses set the class attributes."""

    name = None  # "ble" | "sim" | "bumble"
    simulated = False  # data come from the simulator (the summary labels it)
    host_clock_name = "monotonic"  # "monotonic" | "sim-global"
    scanner_backend = None  # bleak BaseBleakScanner subclass, or None for bleak's platform default
    client_backend = None  # bleak BaseBleakClient subclass, or None

    def host_clock_us(self):
        """Host clock the recorder uses: int microseconds."""
        return monotonic_us()

    def device_kwargs(self):
        """Extra keyword arguments for BleakScanner / BleakClient."""
        return {}

    def describe(self):
        """What session.json and check.json record about the radio stack."""
        return {"name": self.name, "simulated": self.simulated, "host_clock": self.host_clock_name}

    def check_ready(self):
        """Raise UserError if the backend cannot be used at all (e.g. no world file)."""
        try:
            self.host_clock_us()
        except Exception as exc:
            raise UserError("cannot use the %s backend: %s" % (self.name, exc)) from None

    def scan_failed(self, exc):
        """UserError for a scan that could not start (missing adapter, no world)."""
        return UserError("cannot scan with the %s backend: %s" % (self.name, exc))

    def __repr__(self):
        return "<%s backend>" % self.name


class BleBackend(Backend):
    """Real nodes through the computer's Bluetooth adapter (bleak's platform backend)."""

    name = "ble"

    def describe(self):
        import bleak

        d = super().describe()
        d["stack"] = "bleak %s, platform backend" % _version(bleak)
        return d

    def scan_failed(self, exc):
        return UserError("cannot scan for Bluetooth nodes (%s): is a Bluetooth adapter present and switched on "
                         "(Linux: the bluetooth service running)? To try without hardware use --backend sim with "
                         "`myostride sim` running" % exc)


class SimBackend(Backend):
    """Simulated nodes on the virtual air of a running `myostride sim` (myosim.backend)."""

    name = "sim"
    simulated = True
    host_clock_name = "sim-global"

    def __init__(self, world=None):
        from myosim import backend as sim

        self._sim = sim
        # Resolved now (env var, runtime dir), read lazily: a world started later is still found.
        self.world_path = Path(world) if world else sim.default_world_path()
        self.scanner_backend = sim.SimScanner
        self.client_backend = sim.SimClient

    def host_clock_us(self):
        """Global simulation time (the same formula as the air and the nodes)."""
        return int(self._sim.host_clock_us(str(self.world_path)))

    def device_kwargs(self):
        return {"world": str(self.world_path)}

    def describe(self):
        d = super().describe()
        d["stack"] = "myosim virtual air (simulated nodes running the real firmware under MicroPython)"
        d["world"] = str(self.world_path)
        return d

    def check_ready(self):
        try:
            self.host_clock_us()
        except Exception as exc:
            raise UserError("cannot use the simulator: %s" % exc) from None

    def scan_failed(self, exc):
        return UserError("cannot scan the simulator: %s" % exc)


def _version(mod):
    try:
        from importlib.metadata import version

        return version(mod.__name__)
    except Exception:
        return "?"


def resolve_backend(name=DEFAULT_NAME, world=None, hci=None):
    """The Backend for a name; the only place that compares backend names.

    world: sim: the world.json of a running simulation (default: the published one);
           bumble: a real-stack world.json (myosim.realstack), whose central controller(s) it opens.
    hci: bumble only: the HCI transport (e.g. usb:0), or a list of them (several dongles)."""
    name = name or DEFAULT_NAME
    if name not in NAMES:
        raise UserError("unknown backend %r: use ble (real nodes), sim (the simulator) or bumble" % (name,))
    if world and name not in ("sim", "bumble"):
        raise UserError("--world only applies to --backend sim (or bumble on a real-stack world)")
    if hci and name != "bumble":
        raise UserError("--hci only applies to --backend bumble")
    if name == "ble":
        return BleBackend()
    if name == "sim":
        return SimBackend(world)
    from .bumble_backend import make_backend

    return make_backend(world=world, hci=hci)


def session_is_simulated(manifest):
    """Whether a session (its session.json dict) came from the simulator: its recorded radio
    stack says so; sessions older than that field name their backend."""
    radio = (manifest or {}).get("radio")
    if isinstance(radio, dict) and "simulated" in radio:
        return bool(radio["simulated"])
    return (manifest or {}).get("backend") in _SIMULATED_NAMES


_SIMULATED_NAMES = ("sim",)


def as_backend(backend, world=None):
    """A Backend from a Backend (returned as is) or a name (resolved); for library callers."""
    if isinstance(backend, Backend):
        if world:
            raise TypeError("give world= to resolve_backend, not with a Backend object")
        return backend
    return resolve_backend(backend, world=world)


def add_backend_arguments(parser):
    """--backend {ble,sim,bumble} (default ble), --world PATH, --hci TRANSPORT."""
    # default None (resolved to ble): a command can tell "not given" from "given"
    parser.add_argument("--backend", choices=NAMES, default=None,
                        help="ble: real nodes through this computer's Bluetooth (default); sim: a running "
                             "`myostride sim`; bumble: a Bumble HCI transport (--hci)")
    parser.add_argument("--world", metavar="PATH",
                        help="sim only: world.json of the simulation (default: the one `myostride sim` published)")
    parser.add_argument("--hci", metavar="TRANSPORT", action="append",
                        help="bumble only: HCI transport, e.g. usb:0 or serial:/dev/ttyACM0; repeat it for several "
                             "dongles (each new link goes to the one with the fewest)")


def backend_from_args(args):
    """resolve_backend from the parsed --backend/--world/--hci."""
    return resolve_backend(args.backend, world=getattr(args, "world", None), hci=getattr(args, "hci", None))
