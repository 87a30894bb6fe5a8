#!/usr/bin/env python3
"""Start-up benchmark of the five Lambda functions against a hello-world `lambda_http` baseline.

In one run, for hello (bench/hello: same lambda_http, lock file and release profile) and every function:
  init         exec -> the runtime's first GET .../invocation/next, median of --samples fresh processes,
               and that divided by hello's (hello is sampled in the same rounds, so load hits both alike)
  first, warm  event handed out -> its response posted: the first invocation of a process, and the
               --warm ones after it in the same process (medians), and first / warm
  peak RSS     VmHWM of the process after all its invocations (the largest over the samples)
  warm CPU     on-CPU time of the process (every thread) per warm invocation, median over the processes
  CPU/notify   on-CPU time of notify's process (every thread, from /proc/<pid>/task/*/schedstat, in ns)
               per warm notification, over --cpu-run notifications in a row after a first one
  arm64 zip    target/lambda/<fn>/bootstrap.zip of `cargo lambda build --release --arm64 --output-format zip`
Each function answers one real route end to end: DynamoDB and EventBridge are moto on loopback
(scripts/moto_serial.py, from the project venv as scripts/test makes it), WeChat and 2C2P the sandbox's
simulator (`/wechat`, `/2c2p`). Every invocation does the same work: prepay a new order, notify pays a
pending attempt that prepay made (its invoice, amount and orderId, signed with the merchant's key).
A benchmark, never a test: nothing here passes or fails on a time.

Usage: python3 bench/lambda_bench.py [--samples 15] [--warm 5] [--cpu-run 200] [--only FN ...] [--no-build] [--no-arm64]
       (CARGO_TARGET_DIR is honoured; --python names the venv interpreter, default .venv/bin/python)
"""
import argparse
import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import make_notify_event  # noqa: E402  (builds signed notifications)
import make_prepay_event  # noqa: E402  (builds merchant-signed order tokens)

FUNCTIONS = ["openid", "prepay", "notify", "reconcile", "events"]
TABLE = "bench"
ORDER_KEY = "bench-order-signing-key-0123456789abcdef"
MERCHANT_ID = "SANDBOX01"
PGW_KEY = "sandbox-2c2p-secret-key"
SESSION_SECRET = "bench-session-secret-0123456789abcdef"
ISO_NUMERIC = {"SGD": "702"}  # the currency of make_prepay_event's orders, as a notification names it


class Process:
    """What the emulated Runtime API saw of one process: the events still to hand out and the times."""

    def __init__(self, events):
        self.events = list(events)
        self.handed = 0
        self.first_next = None
        self.sent_at = None
        self.durations = []
        self.bodies = []
        self.done = threading.Event()
        self.pid = None
        self.cpu_ns = []  # the process's CPU time at each GET /next after the first response


def cpu_ns(pid):
    """On-CPU time of every live thread of the process, in ns (schedstat's first field)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass  # a thread that ended in between
    return total


CURRENT = Process([])


class RuntimeApi(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # or headers and body go out as two segments and wait for a delayed ACK

    def log_message(self, *args):
        pass

    def do_GET(self):
        if not self.path.startswith("/2018-06-01/runtime/invocation/next"):
            self.send_error(404)
            return
        p = CURRENT
        now = time.perf_counter()
        if p.first_next is None:
            p.first_next = now
        elif p.pid is not None:
            p.cpu_ns.append(cpu_ns(p.pid))
        if p.handed >= len(p.events):
            p.done.set()
            p.done.wait(30)  # the process is killed once it has answered everything
            return
        body = p.events[p.handed]
        p.handed += 1
        self.send_response(200)
        self.send_header("Lambda-Runtime-Aws-Request-Id", f"bench-{p.handed}")
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench")
        self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        p.sent_at = time.perf_counter()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        p = CURRENT
        if "/response" in self.path or "/error" in self.path:
            p.durations.append((time.perf_counter() - p.sent_at) * 1000)
            p.bodies.append((self.path.rsplit("/", 1)[-1], body))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()


def peak_rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def run_process(server, binary, env, events):
    """One fresh process through init and every event; returns (init ms, durations ms, peak RSS KiB, bodies).
    CURRENT.cpu_ns then holds the process's CPU time after each invocation."""
    global CURRENT
    CURRENT = Process(events)
    env = dict(env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_address[1]}")
    log = open(f"/tmp/lambda-bench-{binary.name}.err", "wb")
    start = time.perf_counter()
    process = subprocess.Popen([str(binary)], env=env, stdout=subprocess.DEVNULL, stderr=log)
    CURRENT.pid = process.pid
    try:
        if not CURRENT.done.wait(30):
            raise SystemExit(f"{binary.name} did not answer its events within 30 s (stderr: {log.name})")
        rss = peak_rss_kib(process.pid)
    finally:
        process.kill()
        process.wait()
        log.close()
    return (CURRENT.first_next - start) * 1000, CURRENT.durations, rss, CURRENT.bodies


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, what, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"{what} did not listen on 127.0.0.1:{port} within {seconds} s")


def api_event(name, patch):
    data = json.loads((ROOT / "events" / f"{name}.json").read_text())
    patch(data)
    return json.dumps(data).encode()


def api_status(body):
    return json.loads(body).get("statusCode")


class Events:
    """Each function's route, one new event per invocation so that every invocation does the same work."""

    def __init__(self):
        self.counter = itertools.count(1)
        self.token = None  # a session token for sandbox-alice, from openid itself
        self.pending = []  # (orderId, invoiceNo, amount, currency) of attempts prepay opened, for notify to pay

    def openid(self):
        return api_event("openid", lambda e: None)

    def prepay(self):
        order = make_prepay_event.claims(order_id=f"B-{os.getpid()}-{next(self.counter)}")
        return json.dumps(make_prepay_event.build_event(ORDER_KEY, order, bearer=self.token)).encode()

    def notify(self):
        if not self.pending:
            raise SystemExit("notify: no pending attempt left to pay (prepay more orders first)")
        order_id, invoice, amount, currency = self.pending.pop()
        minor = int(Decimal(amount) * 100)  # SGD has two decimals; 2C2P's amt is 12 digits of minor units
        fields = make_notify_event.notification_fields(
            merchantID=MERCHANT_ID, uniqueTransactionCode=invoice, userDefined1=order_id, amt=f"{minor:012d}",
            currencyCode=ISO_NUMERIC[currency])
        return json.dumps(make_notify_event.build_event(PGW_KEY, fields)).encode()

    def keep_pending(self, bodies):
        """Remember the attempts a prepay process opened (each response names its order and invoice)."""
        for _, body in bodies:
            answer = json.loads(json.loads(body)["body"])
            self.pending.append((answer["orderId"], answer["invoiceNo"], answer["amount"], answer["currency"]))

    def reconcile(self):
        return b"{}"

    def events(self):
        return (ROOT / "events" / "stream.json").read_bytes()

    def hello(self):
        return api_event("openid", lambda e: None)


EXPECTED = {"hello": 200, "openid": 200, "prepay": 200, "notify": 200}


def check(name, bodies):
    for kind, body in bodies:
        if kind != "response":
            raise SystemExit(f"{name} answered an invocation error: {body[:300]!r}")
        if name in EXPECTED and api_status(body) != EXPECTED[name]:
            raise SystemExit(f"{name}: expected status {EXPECTED[name]}, got {body[:300]!r}")
        if name == "events" and json.loads(body).get("batchItemFailures"):
            raise SystemExit(f"events: failed records {body[:300]!r}")


def cargo(args, env=None):
    print("$", " ".join(args), flush=True)
    subprocess.run(["nice", "-n", "10", *args], cwd=ROOT, check=True, env=env)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=15, help="fresh processes per binary")
    parser.add_argument("--warm", type=int, default=5, help="invocations after the first, per process")
    parser.add_argument("--cpu-run", type=int, default=200, help="warm notifications in a row for CPU per notify")
    parser.add_argument("--no-build", action="store_true", help="use the release binaries already built")
    parser.add_argument("--no-arm64", action="store_true", help="skip the arm64 zip build and sizes")
    parser.add_argument("--only", nargs="+", choices=FUNCTIONS, help="measure these functions (and hello) only")
    parser.add_argument("--bin-dir", help="take hello and the functions from here (default: the release build)")
    parser.add_argument("--python", default=str(ROOT / ".venv" / "bin" / "python"), help="has moto[server]")
    args = parser.parse_args()
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    packages = [p for name in ["hello", *FUNCTIONS, "sandbox"] for p in ("-p", name)]
    if not args.no_build:
        cargo(["cargo", "build", "--release", "--quiet", *packages])
    zips = {}
    if not args.no_arm64:
        env = dict(os.environ, PATH=f"{Path(args.python).parent}:{os.environ['PATH']}")
        fns = [p for name in FUNCTIONS for p in ("-p", name)]
        cargo(["cargo", "lambda", "build", "--release", "--arm64", "--output-format", "zip", "--quiet", *fns], env)
        zips = {fn: (target / "lambda" / fn / "bootstrap.zip").stat().st_size for fn in FUNCTIONS}

    services = []
    try:
        moto_port, sandbox_port = free_port(), free_port()
        services.append(subprocess.Popen([args.python, str(ROOT / "scripts" / "moto_serial.py"), str(moto_port)],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        sandbox_env = {"PATH": os.environ["PATH"]}
        services.append(subprocess.Popen([str(target / "release" / "sandbox"), "--port", str(sandbox_port)],
                                         env=sandbox_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_for_port(moto_port, "moto")
        wait_for_port(sandbox_port, "the sandbox")
        moto = f"http://127.0.0.1:{moto_port}"
        sim = f"http://127.0.0.1:{sandbox_port}"
        aws = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": "us-east-1"}

        def new_table(name, *options):
            subprocess.run([args.python, str(ROOT / "scripts" / "create_table.py"), "--endpoint", moto,
                            "--table", name, *options], check=True, env=dict(os.environ, **aws),
                           stdout=subprocess.DEVNULL)
            return name

        new_table(TABLE)

        def open_attempts(table, count):
            """Pending attempts for notify to pay: prepay opens `count` orders in `table`, 50 a process."""
            while count > 0:
                batch = [events.prepay() for _ in range(min(50, count))]
                bodies = run_process(server, binaries["prepay"], dict(envs["prepay"], TABLE_NAME=table), batch)[3]
                check("prepay", bodies)
                events.keep_pending(bodies)
                count -= len(batch)
        env = {
            "PATH": os.environ["PATH"],
            "AWS_LAMBDA_FUNCTION_NAME": "bench",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bench",
            **aws,
            "AWS_SESSION_TOKEN": "bench",
            "AWS_ENDPOINT_URL_DYNAMODB": moto,
            "AWS_ENDPOINT_URL_EVENTBRIDGE": moto,
            "TABLE_NAME": TABLE,
            "EVENT_BUS_NAME": "default",
            "PGW_PAYMENT_URL": f"{sim}/2c2p/SecurePayment/Payment.aspx",
            "PGW_ACTION_URL": f"{sim}/2c2p/PaymentActionV2/PaymentProcess.aspx",
            "PGW_MERCHANT_ID": MERCHANT_ID,
            "PGW_SECRET_KEY": PGW_KEY,
            "WECHAT_APP_ID": "wxsandbox0000000001",
            "WECHAT_APP_SECRET": "sandbox-wechat-app-secret",
            "WECHAT_API_URL": f"{sim}/wechat",
            "SESSION_SECRET": SESSION_SECRET,
            "ORDER_SIGNING_KEY": ORDER_KEY,
        }
        envs = {name: env for name in ["hello", *FUNCTIONS]}

        server = ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        events = Events()
        bin_dir = Path(args.bin_dir) if args.bin_dir else target / "release"
        binaries = {name: bin_dir / name for name in ["hello", *FUNCTIONS]}
        measured = {name: binaries[name] for name in ["hello", *(args.only or FUNCTIONS)]}
        _, _, _, bodies = run_process(server, binaries["openid"], envs["openid"], [events.openid()])
        check("openid", bodies)
        events.token = json.loads(json.loads(bodies[0][1])["body"])["token"]
        for name, binary in binaries.items():  # moto loads each service's backend on its first request
            bodies = run_process(server, binary, envs[name], [getattr(events, name)()])[3]
            check(name, bodies)
            if name == "prepay":
                events.keep_pending(bodies)
        results = {name: {"init": [], "first": [], "warm": [], "cpu": [], "rss": 0} for name in measured}
        for round_no in range(args.samples):  # round-robin, so a burst of load hits every binary alike
            # A fresh table each round: moto copies the whole table (stream included) for every
            # transaction, so a table that keeps growing would slow every round down more than the last.
            # prepay runs before notify and opens the attempts that notify then pays.
            table = new_table(f"{TABLE}{round_no}")
            if "notify" in measured and "prepay" not in measured:  # notify pays what prepay opens
                open_attempts(table, 1 + args.warm)
            for name, binary in measured.items():
                make = getattr(events, name)
                init, durations, rss, bodies = run_process(server, binary, dict(envs[name], TABLE_NAME=table),
                                                           [make() for _ in range(1 + args.warm)])
                check(name, bodies)
                if name == "prepay":
                    events.keep_pending(bodies)
                r = results[name]
                r["init"].append(init)
                r["first"].append(durations[0])
                r["warm"].extend(durations[1:])
                marks = CURRENT.cpu_ns
                r["cpu"].append((marks[-1] - marks[0]) / (len(marks) - 1) / 1e6)
                r["rss"] = max(r["rss"], rss)
        notify_cpu_ms = None
        if "notify" in measured and args.cpu_run > 0:
            # CPU per warm notification: one process, a first notification, then --cpu-run in a row, each
            # paying an attempt prepay opened just before in the same table.
            table = new_table(f"{TABLE}cpu", "--without-stream")  # a table that grows: no stream to copy
            events.pending.clear()
            open_attempts(table, 1 + args.cpu_run)
            bodies = run_process(server, binaries["notify"], dict(envs["notify"], TABLE_NAME=table),
                                 [events.notify() for _ in range(1 + args.cpu_run)])[3]
            check("notify", bodies)
            marks = CURRENT.cpu_ns
            notify_cpu_ms = (marks[-1] - marks[0]) / args.cpu_run / 1e6
        server.shutdown()
    finally:
        for service in services:
            service.terminate()
            service.wait()

    med = statistics.median
    hello_init = med(results["hello"]["init"])
    print(f"\n{args.samples} processes per binary, {args.warm} warm invocations each; medians")
    print(f"{'binary':10}{'init ms':>9}{'÷ hello':>9}{'first ms':>10}{'warm ms':>9}{'first÷warm':>12}"
          f"{'warm CPU ms':>13}{'peak RSS MiB':>14}{'arm64 zip MB':>14}")
    for name, r in results.items():
        init, first, warm = med(r["init"]), med(r["first"]), med(r["warm"])
        zip_mb = f"{zips[name] / 1e6:.2f}" if name in zips else "-"
        print(f"{name:10}{init:>9.2f}{init / hello_init:>9.2f}{first:>10.2f}{warm:>9.2f}{first / warm:>12.2f}"
              f"{med(r['cpu']):>13.3f}{r['rss'] / 1024:>14.1f}{zip_mb:>14}")
    if notify_cpu_ms is not None:
        print(f"\nnotify: {notify_cpu_ms:.3f} ms of CPU (all threads) per warm notification, "
          f"{args.cpu_run} in a row after a first one")


if __name__ == "__main__":
    main()
