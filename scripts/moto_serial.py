#!/usr/bin/env python3
"""Serve moto's DynamoDB-compatible API on 127.0.0.1:PORT, one request at a time.

moto's own server (`moto_server`, ThreadedMotoServer) handles each request on its own thread,
and moto does not hold a lock between checking a ConditionExpression and writing the item. Two
racing conditional writes can then both succeed, which real DynamoDB never allows. Serving the
same WSGI application from a single thread, with no worker processes, makes every request
(condition check and write included) run to completion before the next one starts.

With neither threads nor processes, werkzeug answers as HTTP/1.0 and closes each connection after
its response, so a client that pools connections cannot hold the only worker.

Usage:
    python scripts/moto_serial.py PORT

Stop it with Ctrl-C or SIGTERM. Everything is kept in memory and lost when it stops.
"""

from __future__ import annotations

import signal
import sys

HOST = "127.0.0.1"


def main() -> None:
    if len(sys.argv) != 2 or not sys.argv[1].isdigit() or not 0 < int(sys.argv[1]) < 65536:
        print("usage: moto_serial.py PORT", file=sys.stderr)
        sys.exit(2)
    port = int(sys.argv[1])

    try:
        # moto.server re-exports these as its public way to build the server's WSGI app.
        from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import run_simple
    except ImportError as error:
        print(f"moto_serial: {error}; install it with: pip install 'moto[server]'", file=sys.stderr)
        sys.exit(1)

    # A plain exit on SIGTERM, so whoever started us can stop us without a traceback.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    # The dispatcher picks moto's backend from each request's Host header, credential scope or
    # X-Amz-Target (DynamoDB's is "DynamoDB_20120810.*"), exactly as moto's own server does.
    app = DomainDispatcherApplication(create_backend_app)
    print(f"moto_serial: starting on http://{HOST}:{port}, one request at a time", flush=True)
    try:
        run_simple(
            HOST,
            port,
            app,
            threaded=False,
            processes=1,
            use_reloader=False,
            use_debugger=False,
            request_handler=MotoRequestHandler,
        )
    except OSError as error:
        print(f"moto_serial: cannot listen on {HOST}:{port}: {error.strerror}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
