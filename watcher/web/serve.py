"""`watcher serve`: the workspace on waitress, until SIGTERM or SIGINT.

The store is opened once the usual way (checked, migrated), then each server thread attaches its
own connection. A stop signal lets the requests in progress finish (their transactions commit or
roll back whole), closes the socket and the connections, and exits 0."""

from __future__ import annotations

import ipaddress
import logging
import signal
from collections.abc import Callable
from types import FrameType

from waitress import create_server

from ..config import Config
from ..errors import UsageError
from ..store import Store
from .accounts import key_path, session_key
from .app import create_app

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
THREADS = 8


def loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve(config: Config, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, threads: int = THREADS,
          behind_proxy: bool = False, say: Callable[[str], None] | None = None) -> int:
    say = say or (lambda line: print(line, flush=True))  # the address, at once, to whoever reads the output
    loopback = loopback_host(host)
    with Store.open(config.database) as store:  # checked and migrated once; the threads attach
        accounts = len(store.users())
    if not loopback and not accounts:
        raise UsageError(f"serve: --host {host} is not a loopback address and no account exists, so nobody could sign in;"
                         " add one with `watcher user add NAME` (or serve on 127.0.0.1)")
    if behind_proxy and not accounts:
        raise UsageError("serve: --behind-proxy needs an account (there is no local user behind a proxy);"
                         " add one with `watcher user add NAME`")
    key = session_key(config.database)
    app = create_app(config, key, loopback=loopback, behind_proxy=behind_proxy)
    server = create_server(app, host=host, port=port, threads=threads, ident="watcher")
    shown_host = f"[{host}]" if ":" in host else host
    address = f"http://{shown_host}:{server.effective_port}/"
    who = (f"{accounts} account(s): sign-in required" if accounts else
           "no account: every request from this machine is the local user (add one with `watcher user add NAME`)")
    say(f"watcher serve: {address} ({who}); session key in {key_path(config.database)}; stop with Ctrl-C or SIGTERM")

    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)  # waitress's loop lets the running requests finish, then returns

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.run()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        server.close()
        app.extensions["watcher_stores"].close()
        log.info("serve: stopped")
    say("watcher serve: stopped")
    return 0
