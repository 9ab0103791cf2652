"""Instructions per request, `portal serve` against the bare endpoint, under callgrind.

Usage: python bench/http_instructions.py [--seconds 10] [--cases heartbeat vote]

`bench/http_bench.py` gives the target ratios (requests per second, side by side), but on a
shared machine its rounds swing by ±0.1. This gives a steadier second view of the same
servers: each runs under `valgrind --tool=callgrind` (user-space instructions, counted, not
timed), serving the same load as http_bench (wrk, 64 connections, rotating sessions for
heartbeats, fresh ones for votes); the count of an idle window of the same length is taken
off. Two runs of one server agree within about 1 %. Kernel time (socket reads and writes,
about 15 µs a request on either side) is not counted, so the instruction ratio is lower
than the CPU ratio: read it to compare changes, not against the targets.

Needs valgrind and callgrind_control (Debian: apt-get install valgrind) and wrk. Under
callgrind a server runs about 50 times slower: batches grow, so per-request figures of the
portal are a little better than at full speed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

import http_bench as hb  # noqa: E402

CASES = {
    "heartbeat": ("POST", "/api/presence", hb.HEARTBEAT_BODY),
    "vote": ("POST", hb.VOTE_PATH, '{"option": "OPTION"}'),
}


def _control(*args: str) -> None:
    subprocess.run(["callgrind_control", *args], capture_output=True, check=False)


def _instructions(path: Path) -> int:
    for line in path.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    return 0


def measure(kind: str, case: str, seconds: float, redis_url: str, work: Path) -> tuple[int, int]:
    """(requests served, instructions per request) for one server and case."""
    port = hb.free_port()
    env = {
        **os.environ,
        "BENCH_REDIS_URL": redis_url,
        "PORTAL_REDIS_URL": redis_url,
        "PORTAL_SECRET_KEY": hb.SECRET,
        "PORTAL_ADMIN_TOKEN": hb.ADMIN,
        "PORTAL_REDIS_PREFIX": hb.PREFIX,
        "PORTAL_DATA_DIR": str(work / "data"),
        "PORTAL_VOTE_RATE_LIMIT": "off",
        "PORTAL_MAX_ONLINE_PER_ADDRESS": "100000",
    }
    out = work / f"{kind}-{case}"
    valgrind = ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                f"--callgrind-out-file={out}.%p"]  # fmt: skip
    if kind == "portal":
        server = [sys.executable, "-m", "portal", "serve", "--no-watch", "--port", str(port),
                  "--site", str(REPO / "site"), "--out", str(work / "dist")]  # fmt: skip
        health = "/healthz"
    else:
        server = [sys.executable, "-m", "server.serving", f"baseline_apps:{kind}",
                  "--app-dir", str(REPO / "bench"), "--port", str(port)]  # fmt: skip
        health = "/api/presence"
    log = work / f"{kind}.log"
    process = subprocess.Popen(
        valgrind + server, env=env, cwd=REPO, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                urllib.request.urlopen(base + health, timeout=2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    tail = log.read_text()[-2000:]
                    raise RuntimeError(f"{kind} did not come up:\n{tail}") from None
                time.sleep(1)
        method, path, body = CASES[case]
        origin = base if case == "heartbeat" else ""
        sessions = 300 if case == "heartbeat" else 100_000
        warm, tokens = work / "warm", work / "tokens"
        warm.write_text("\n".join(hb.mint_tokens(300 if case == "heartbeat" else 20_000)))
        tokens.write_text("\n".join(hb.mint_tokens(sessions)))
        hb.generate_load(base, method, path, body, warm, 3, 64, origin)
        pid = str(process.pid)
        _control("-i", "on", pid)
        time.sleep(seconds)
        _control("-d", pid)  # part 1: idle
        result = hb.generate_load(base, method, path, body, tokens, seconds, 64, origin)
        _control("-d", pid)  # part 2: under load
        _control("-i", "off", pid)
    finally:
        hb.stop(process)
    idle = _instructions(next(work.glob(f"{out.name}.*.1")))
    busy = _instructions(next(work.glob(f"{out.name}.*.2")))
    if result.non2xx:
        raise RuntimeError(f"{kind} {case}: {result.non2xx} answers were not 2xx")
    return result.requests, (busy - idle) // max(result.requests, 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="load (and idle) window")
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    args = parser.parse_args()
    missing = [tool for tool in ("valgrind", "callgrind_control", "wrk") if not shutil.which(tool)]
    if missing:
        print(f"needs {', '.join(missing)} on PATH")
        return 2
    print(
        f"{'case':10} {'server':8} {'requests':>9} {'instructions/request':>22} {'bare/portal':>12}"
    )
    for case in args.cases:
        counts: dict[str, int] = {}
        for kind in ("bare", "portal"):
            with tempfile.TemporaryDirectory(prefix="portal-cg-") as tmp:
                work = Path(tmp)
                redis, url = hb.start_redis(work)
                try:
                    requests, counts[kind] = measure(kind, case, args.seconds, url, work)
                finally:
                    redis.terminate()
            ratio = f"{counts['bare'] / counts[kind]:.2f}" if kind == "portal" else ""
            print(f"{case:10} {kind:8} {requests:>9} {counts[kind]:>22,} {ratio:>12}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
