"""`myostride console`: the therapist's console, a local web page for the whole trial.

Study -> Sensors -> Check -> Record -> Review -> Interpretation -> Report, on the same
recorder, check, analysis and report code as the CLI. Serves every asset itself (works
offline), listens on 127.0.0.1 unless --listen says otherwise, and always asks for the
random access token carried by the address it prints and opens.
"""

import argparse
import socket

from ..acquire.backends import add_backend_arguments, backend_from_args
from ..errors import UserError

DEFAULT_PORT = 8714


def add_parser(subparsers):
    p = subparsers.add_parser(
        "console", help="the therapist's console: a local web page from study set-up to signed report",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Example: myostride console --backend sim   (a simulated patient for training and demos)")
    add_backend_arguments(p)  # --backend ble|sim|bumble (sim: the page can start a simulated patient), --world, --hci
    p.add_argument("--data", metavar="DIR", default="myostride-console",
                   help="where studies (clinical files, sessions, reports) are kept (default ./myostride-console)")
    p.add_argument("--listen", metavar="ADDR", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this computer only). Any other address makes "
                        "the console reachable from the network, still only with the access token")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="TCP port (default %d; 0: any free port)" % DEFAULT_PORT)
    p.add_argument("--no-browser", action="store_true", help="do not open a browser; just print the address")
    p.add_argument("--sim-nodes", type=int, default=4, metavar="N", help="sim: nodes the simulated patient wears, 1-12 (default 4)")
    p.add_argument("--sim-seconds", type=float, default=900.0, metavar="S",
                   help="sim: how long the simulated patient walks, 60-1800 s (default 900)")
    p.add_argument("--sim-condition", default="normal", metavar="NAME",
                   help="sim: walking pattern: normal, crouch, equinus, stiff-knee, hemiplegic (default normal)")
    p.set_defaults(run=run)


def check_args(args):
    from myosim.patient import CONDITIONS

    from ..console.security import is_loopback

    if not 0 <= args.port <= 65535:
        raise UserError("--port must be 0-65535, got %d" % args.port)
    if not 1 <= args.sim_nodes <= 12:
        raise UserError("--sim-nodes must be 1-12, got %d" % args.sim_nodes)
    if not 60 <= args.sim_seconds <= 1800:
        raise UserError("--sim-seconds must be 60-1800, got %g" % args.sim_seconds)
    if args.sim_condition not in CONDITIONS:
        raise UserError("unknown --sim-condition %r; choose one of %s" % (args.sim_condition, ", ".join(CONDITIONS)))
    try:
        socket.getaddrinfo(args.listen, None)
    except socket.gaierror:
        raise UserError("--listen %s is not an address of this computer; use 127.0.0.1 (default) or an interface address"
                        % args.listen) from None
    return is_loopback(args.listen)


def bind(host, port):
    """A listening socket; the default port falls back to a free one when taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for p in ((port, 0) if port == DEFAULT_PORT else (port,)):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, p))
        except OSError as exc:
            sock.close()
            last = exc
            continue
        sock.listen(64)
        sock.set_inheritable(True)
        return sock
    raise UserError("cannot listen on %s port %d (%s); choose another --port" % (host, port, last.strerror))


def make_server(args, sock, backend):
    """(uvicorn.Server, url with token) for a bound socket and a resolved Backend."""
    try:
        import uvicorn

        from ..console.app import Console, build_app
    except ImportError as exc:
        raise UserError("the console needs its extra dependencies (%s): pip install 'myostride[console]'" % exc.name) from None
    from ..console.radio import ConsoleBackend
    from ..console.security import Guard

    host, port = sock.getsockname()[:2]
    guard = Guard(args.listen, port)
    backend = ConsoleBackend(backend, world=args.world, hci=getattr(args, "hci", None))
    console = Console(args.data, backend, guard, sim_nodes=args.sim_nodes, sim_seconds=args.sim_seconds,
                      sim_condition=args.sim_condition)
    app = build_app(console)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", ws="websockets-sansio",
                            timeout_graceful_shutdown=60)
    server = uvicorn.Server(config)
    shown = "127.0.0.1" if guard.local else host
    url = "http://%s:%d/?token=%s" % ("[%s]" % shown if ":" in shown else shown, port, guard.token)
    return server, url


def run(args):
    import asyncio
    import webbrowser

    local = check_args(args)
    backend = backend_from_args(args)  # resolved once, passed down
    sock = bind(args.listen, args.port)
    server, url = make_server(args, sock, backend)
    print("myostride console (%s backend) at:\n  %s" % (args.backend or "ble", url), flush=True)
    if not local:
        print("  listening on %s: reachable from the network; only with the token above. Share it with care." % args.listen,
              flush=True)
    print("  studies are kept in %s; Ctrl-C stops the console (a running trial is stopped cleanly first)" % args.data,
          flush=True)
    if not args.no_browser:
        webbrowser.open(url)
    try:
        asyncio.run(server.serve(sockets=[sock]))
    except KeyboardInterrupt:
        pass  # uvicorn re-raises the Ctrl-C it handled: the shutdown above already ran
    print("myostride console stopped", flush=True)
    return 0
