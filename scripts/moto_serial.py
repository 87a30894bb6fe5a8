#!/usr/bin/env python3
"""Serves moto's DynamoDB-compatible app on 127.0.0.1:PORT, answering ONE request at a time.

moto's own server answers each request on its own thread and does not make a condition check and
its write atomic, so two racing conditional writes could both succeed there, which DynamoDB never
allows. Serving requests one after another restores that guarantee for the concurrency tests.

Usage: python scripts/moto_serial.py PORT
"""
import sys

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple


def main() -> None:
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        raise SystemExit("usage: moto_serial.py PORT")
    app = DomainDispatcherApplication(create_backend_app)
    run_simple("127.0.0.1", int(sys.argv[1]), app, threaded=False, processes=1, use_reloader=False)


if __name__ == "__main__":
    main()
