#!/usr/bin/env python3
"""Cold-start harness: how long each Lambda binary takes from exec to its first answer, and its peak memory.

It plays the Lambda Runtime API on loopback (one invocation per process), starts a fresh process of a
release binary for every sample, and measures, per sample:
  init   exec -> the runtime's first GET .../invocation/next (config, clients, tracing built)
  first  exec -> the first invocation's response posted (init + the first request)
  rss    peak resident memory of the process (VmHWM) once it answered
The first request of each function touches no DynamoDB (a refused token or signature), so the numbers
are the function's own start-up, not the network's. WeChat is answered by a stub on the same server.

Usage: cargo build --release -p openid -p prepay -p notify && python3 bench/coldstart.py [--samples 20]
"""
import argparse
import json
import os
import statistics
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class Runtime:
    """State of one sample: the event to hand out and the times things happened."""

    def __init__(self):
        self.event = b"{}"
        self.first_next = None
        self.responded = None
        self.response_body = None
        self.done = threading.Event()


STATE = Runtime()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path.startswith("/2018-06-01/runtime/invocation/next"):
            if STATE.first_next is None:
                STATE.first_next = time.perf_counter()
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", "coldstart-1")
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench")
                self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
                self.send_header("Content-Length", str(len(STATE.event)))
                self.end_headers()
                self.wfile.write(STATE.event)
            else:
                STATE.done.wait(10)  # the process is killed after its first answer
        elif self.path.startswith("/wechat/sns/jscode2session"):
            body = json.dumps({"openid": "oBench", "session_key": "a2V5"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_response(404)
            self.end_headers()

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if "/response" in self.path or "/error" in self.path:
            STATE.responded = time.perf_counter()
            STATE.response_body = body
            STATE.done.set()
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()


def event(name, patch):
    data = json.loads((ROOT / "events" / f"{name}.json").read_text())
    patch(data)
    return json.dumps(data).encode()


def peak_rss_kib(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def sample(binary, env, payload):
    """One cold start on a fresh emulator, so a killed process's late request cannot reach the next sample."""
    global STATE
    STATE = Runtime()
    STATE.event = payload
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    env = dict(env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{port}", WECHAT_API_URL=f"http://127.0.0.1:{port}/wechat")
    start = time.perf_counter()
    errors = open(f"/tmp/coldstart-{binary.name}.err", "wb")
    process = subprocess.Popen([str(binary)], env=env, stdout=subprocess.DEVNULL, stderr=errors)
    try:
        if not STATE.done.wait(15):
            raise RuntimeError(f"{binary.name} did not answer within 15 s (its stderr: {errors.name})")
        rss = peak_rss_kib(process.pid)
    finally:
        process.kill()
        process.wait()
        errors.close()
        server.shutdown()
        server.server_close()
    status = json.loads(STATE.response_body or b"{}").get("statusCode")
    return (STATE.first_next - start) * 1000, (STATE.responded - start) * 1000, rss, status


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--target-dir", default=str(ROOT / "target" / "release"))
    args = parser.parse_args()

    base_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_LAMBDA_FUNCTION_NAME": "bench",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bench",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "TABLE_NAME": "bench",
        "PGW_MERCHANT_ID": "M0001",
        "PGW_SECRET_KEY": "not-the-key-the-event-was-signed-with",
        "WECHAT_APP_ID": "wx1234567890abcdef",
        "WECHAT_APP_SECRET": "bench-secret",
        "SESSION_SECRET": "bench-session-secret-0123456789abcdef",
    }
    cases = [
        ("openid", event("openid", lambda e: None), 200),
        ("prepay", event("prepay", lambda e: e["headers"].update({"authorization": "Bearer not-a-token"})), 401),
        ("notify", event("notify", lambda e: None), 401),
    ]
    print(f"{'function':8} {'init ms (median, p90)':>24} {'first answer ms (median, p90)':>32} {'peak RSS MiB':>13}")
    for name, payload, expected in cases:
        binary = Path(args.target_dir) / name
        if not binary.exists():
            raise SystemExit(f"{binary} is missing: cargo build --release -p {name}")
        inits, firsts, rsss = [], [], []
        for _ in range(args.samples):
            init, first, rss, status = sample(binary, dict(base_env), payload)
            if status != expected:
                raise SystemExit(f"{name}: expected status {expected}, got {status}")
            inits.append(init)
            firsts.append(first)
            if rss:
                rsss.append(rss / 1024)
        p90 = lambda xs: sorted(xs)[max(0, int(len(xs) * 0.9) - 1)]
        print(
            f"{name:8} {statistics.median(inits):>13.1f} {p90(inits):>10.1f}"
            f" {statistics.median(firsts):>21.1f} {p90(firsts):>10.1f} {max(rsss) if rsss else float('nan'):>13.1f}"
        )


if __name__ == "__main__":
    main()
