"""Heartbeats, votes and count reads: `portal serve` against two baselines, side by side.

Usage: python bench/http_bench.py [--quick] [--workers 1 2] [--duration 6] [--rounds 3]

For each worker count it starts, one after the other on a fresh redis-server: (a) a bare
Starlette endpoint, (b) a naive one-EVALSHA-per-request service, (c) the real `portal serve`,
all under uvicorn with the same options and worker count (`server.serving`), and drives each
with wrk (or, without wrk, a small asyncio HTTP/1.1 client). The portal runs with its
default limits (the new-visitor limit included): heartbeats rotate a few hundred valid
sessions and carry the page's own `Origin`, as a browser sends them; votes use fresh
sessions, each voting once (all must answer 201). The vote rate limit is off: it would
refuse a load generator on one address.

The servers take turns in short slices (`--rounds`), so a machine that gets busier or quieter
moves them alike; the table gives each server's median round and the median of the per-round
ratios to bare. It then checks the results are exact: the online count equals the sessions
used, every counted vote is one ballot. Only the ratios mean anything across machines; the
machine running it should be otherwise idle.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from server.sessions import SessionSigner  # noqa: E402

SECRET = "bench-secret-key-0123456789abcdef"
ADMIN = "bench-admin-token"
PREFIX = "bench-portal:"
VOTE_PATH = "/api/polls/portal-rating/votes"
HEARTBEAT_BODY = '{"page": "/index.html"}'
OPTIONS = ("rat-tot", "tot", "binh-thuong", "chua-tot")
KINDS = ("bare", "naive", "portal")
# What the portal must reach, as a share of bare's requests/s (1 worker).
TARGETS = {"heartbeat": 0.6, "vote": 0.45, "count read": None}

WRK_SCRIPT = Path(__file__).resolve().parent / "wrk_sessions.lua"


@dataclass
class Result:
    requests: int
    seconds: float
    non2xx: int
    errors: int
    p50: float
    p99: float
    cpu: float = 0.0
    """Seconds of CPU the server's processes used meanwhile (Linux; 0 elsewhere)."""

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_per_request(self) -> float:
        """Microseconds of server CPU per request: steadier than req/s on a busy machine."""
        return self.cpu / self.requests * 1e6 if self.requests else float("nan")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_http(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url, timeout=0.5):
                return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not come up:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)


def start_redis(work: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    if binary is None:
        from server.embedded import redis_server_binary

        binary = redis_server_binary()
    port = free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(work)]  # fmt: skip
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    return process, f"redis://127.0.0.1:{port}/0"


def start_server(
    kind: str, workers: int, redis_url: str, work: Path, prefix: str = PREFIX
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "BENCH_REDIS_URL": redis_url}
    if kind == "portal":
        env.update(
            PORTAL_REDIS_URL=redis_url,
            PORTAL_SECRET_KEY=SECRET,
            PORTAL_ADMIN_TOKEN=ADMIN,
            PORTAL_REDIS_PREFIX=prefix,
            PORTAL_DATA_DIR=str(work / "data"),
            # The per-address vote limit would refuse a load generator on one address.
            PORTAL_VOTE_RATE_LIMIT="off",
            PORTAL_NEW_VISITOR_LIMIT="60/minute",  # on, as deployed: valid sessions skip it
        )
        args = [sys.executable, "-m", "portal", "serve", "--no-watch", "--port", str(port),
                "--workers", str(workers), "--site", str(REPO / "site"),
                "--out", str(work / "dist")]  # fmt: skip
        health = "/healthz"
    else:
        # Served as `portal serve` serves the portal: the same uvicorn options and HTTP
        # protocol (`server.serving`).
        args = [sys.executable, "-m", "server.serving", f"baseline_apps:{kind}",
                "--app-dir", str(REPO / "bench"), "--port", str(port),
                "--workers", str(workers)]  # fmt: skip
        health = "/api/presence"
    log = work / f"{kind}.log"
    process = subprocess.Popen(
        args, env=env, cwd=REPO, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    wait_http(base + health, process, log)
    return process, base


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def mint_tokens(count: int) -> list[str]:
    """Fresh sessions signed with the portal's key, exactly as the API would hand them out."""
    signer = SessionSigner((SECRET,), 86400)
    return [signer.new().token for _ in range(count)]


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and all its descendants, from /proc."""
    total = 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += cpu_seconds(int(child))
    except (OSError, ValueError, IndexError):
        pass
    return total


def load(
    server: tuple[subprocess.Popen[bytes], str],
    method: str,
    path: str,
    body: str,
    tokens: Path,
    seconds: float,
    connections: int,
) -> Result:
    process, base = server
    before = cpu_seconds(process.pid)
    origin = base if method == "POST" and path == "/api/presence" else ""
    result = generate_load(base, method, path, body, tokens, seconds, connections, origin)
    result.cpu = cpu_seconds(process.pid) - before
    return result


def generate_load(
    base: str,
    method: str,
    path: str,
    body: str,
    tokens: Path,
    seconds: float,
    connections: int,
    origin: str,
) -> Result:
    if shutil.which("wrk"):
        return load_wrk(base, method, path, body, tokens, seconds, connections, origin)
    lines = tokens.read_text().split()
    return asyncio.run(load_asyncio(base, method, path, body, lines, seconds, connections, origin))


def load_wrk(
    base: str,
    method: str,
    path: str,
    body: str,
    tokens: Path,
    seconds: float,
    connections: int,
    origin: str,
) -> Result:
    threads = 2
    script = WRK_SCRIPT
    env = {**os.environ, "BENCH_THREADS": str(threads), "BENCH_METHOD": method,
           "BENCH_PATH": path, "BENCH_BODY": body, "BENCH_TOKENS": str(tokens),
           "BENCH_ORIGIN": origin}  # fmt: skip
    args = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "-s",
        str(script),
        base,
    ]
    done = subprocess.run(args, env=env, capture_output=True, text=True)
    out = done.stdout
    if done.returncode != 0 or "BENCH " not in out:
        raise RuntimeError(f"wrk failed: {done.stderr or out}")
    line = next(x for x in out.splitlines() if x.startswith("BENCH "))
    return Result(**json.loads(line[6:]))


async def load_asyncio(
    base: str,
    method: str,
    path: str,
    body: str,
    tokens: list[str],
    seconds: float,
    conns: int,
    origin: str,
) -> Result:
    """Keep-alive HTTP/1.1 over `conns` connections; slower than wrk, fine for ratios."""
    host, port = base.removeprefix("http://").split(":")
    latencies: list[float] = []
    counts = {"non2xx": 0, "errors": 0}
    deadline = time.perf_counter() + seconds

    def raw(index: int) -> bytes:
        payload = body.replace("OPTION", OPTIONS[index % 4]).encode()
        head = f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        head += f"X-Portal-Session: {tokens[index]}\r\n"
        if origin:
            head += f"Origin: {origin}\r\n"
        if payload:
            head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        return head.encode() + b"\r\n" + payload

    async def worker(slot: int) -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        index = slot
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(raw(index % len(tokens)))
            index += conns
            status = int((await reader.readline()).split()[1])
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            counts["non2xx"] += not 200 <= status < 400
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(conns)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return Result(
        requests=len(latencies),
        seconds=elapsed,
        non2xx=counts["non2xx"],
        errors=counts["errors"],
        p50=latencies[len(latencies) // 2] * 1000,
        p99=latencies[int(len(latencies) * 0.99)] * 1000,
    )


def get_json(url: str, token: str | None = None) -> Any:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())


def check_exact(
    kind: str, base: str, redis_url: str, sessions: int, votes: Result | None, in_flight: int = 0
) -> str:
    """The online count is the sessions that beat; every counted vote is one ballot."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        problems = []
        if kind != "bare" and votes is None:
            online = get_json(base + "/api/presence?page=/index.html")
            if online["online"] != sessions or online["page_online"] != sessions:
                problems.append(f"online {online} != {sessions} sessions")
        if votes is not None and kind != "bare":
            prefix = PREFIX if kind == "portal" else "bench-naive:"
            # One snapshot of both: requests still in flight when the load generator stopped
            # go on landing, and a vote is one script, so they agree at any single instant.
            with client.pipeline(transaction=True) as pipe:
                pipe.hlen(prefix + "{poll:portal-rating}:ballots")
                pipe.hgetall(prefix + "{poll:portal-rating}:tally")
                ballots, tally = pipe.execute()
            counted = sum(int(v) for k, v in tally.items() if not k.startswith(b":"))
            answered = votes.requests - votes.non2xx
            # Requests still in flight when the load generator stopped may be counted too.
            if counted != ballots or not answered <= counted <= answered + in_flight:
                problems.append(f"votes: {counted} counted, {ballots} ballots, {answered} 201s")
        return "exact" if not problems else "; ".join(problems)
    finally:
        client.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--duration", type=int, default=2, help="seconds per round and server")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds of a case")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--sessions", type=int, default=300, help="sessions sending heartbeats")
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    parser.add_argument("--quick", action="store_true", help="1 worker, 3 rounds of 1 s")
    args = parser.parse_args()
    if args.quick:
        args.workers, args.duration, args.rounds = [1], 1, 3
    tool = "wrk" if shutil.which("wrk") else "asyncio client"
    print(
        f"load: {tool}, {args.connections} connections, {args.rounds} interleaved rounds of "
        f"{args.duration} s per case and server; {os.cpu_count()} CPUs"
    )
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="portal-bench-") as tmp:
        work = Path(tmp)
        redis_process, redis_url = start_redis(work)
        try:
            for workers in args.workers:
                rows.extend(run_workers(workers, redis_url, work, args))
        finally:
            stop(redis_process)
    print_table(rows)
    bad = [r for r in rows if any(x.non2xx or x.errors for x in r[3]) or r[4] not in OK]
    return 1 if bad else 0


OK = ("exact", "-")
Row = tuple[int, str, str, list[Result], str]
"""workers, case, server, its rounds, whether the results were exact."""


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def total(results: list[Result]) -> Result:
    """Rounds added up (for the exactness checks); p99 the worst round's."""
    return Result(
        requests=sum(r.requests for r in results),
        seconds=sum(r.seconds for r in results),
        non2xx=sum(r.non2xx for r in results),
        errors=sum(r.errors for r in results),
        p50=median([r.p50 for r in results]),
        p99=max(r.p99 for r in results),
        cpu=sum(r.cpu for r in results),
    )


def run_workers(workers: int, redis_url: str, work: Path, args: argparse.Namespace) -> list[Row]:
    """All servers up at once (idle ones cost nothing), cases run round-robin across them,
    so a machine that gets busier or quieter during the run moves every server alike."""
    import redis

    redis.Redis.from_url(redis_url).flushall()
    servers = {kind: start_server(kind, workers, redis_url, work) for kind in args.kinds}
    try:
        bases = {kind: base for kind, (_, base) in servers.items()}
        beats = work / "beats.txt"
        beats.write_text("\n".join(mint_tokens(args.sessions)) + "\n")
        conns, slice_ = args.connections, args.duration
        for kind in bases:  # warm up
            load(servers[kind], "POST", "/api/presence", HEARTBEAT_BODY, beats, 1, conns)

        def run_case(
            method: str, path: str, body: str, tokens: Callable[[str], Path]
        ) -> dict[str, list[Result]]:
            parts: dict[str, list[Result]] = {kind: [] for kind in bases}
            for _ in range(args.rounds):
                for kind, server in servers.items():
                    parts[kind].append(
                        load(server, method, path, body, tokens(kind), slice_, conns)
                    )
            return parts

        rows: list[Row] = []
        heartbeats = run_case("POST", "/api/presence", HEARTBEAT_BODY, lambda kind: beats)
        for kind, results in heartbeats.items():
            exact = check_exact(kind, bases[kind], redis_url, args.sessions, None)
            rows.append((workers, "heartbeat", kind, results, exact))
        reads = run_case("GET", "/api/presence?page=/index.html", "", lambda kind: beats)
        rows.extend((workers, "count read", kind, results, "-") for kind, results in reads.items())

        def voters(kind: str) -> Path:
            # Fresh sessions for every slice, enough that none votes twice even at
            # heartbeat speed: every answer must be a 201.
            path = work / f"voters-{kind}.txt"
            fastest = max(r.rps for results in heartbeats.values() for r in results)
            path.write_text("\n".join(mint_tokens(int(fastest * slice_ * 1.5) + 2000)) + "\n")
            return path

        votes = run_case("POST", VOTE_PATH, '{"option": "OPTION"}', voters)
        for kind, results in votes.items():
            # At most one request per connection is in flight when a round's load stops.
            in_flight = args.connections * args.rounds
            exact = check_exact(kind, bases[kind], redis_url, 0, total(results), in_flight)
            rows.append((workers, "vote", kind, results, exact))
        return rows
    finally:
        for process, _ in servers.values():
            stop(process)


def print_table(rows: list[Row]) -> None:
    """Each server's median round; `/bare` is the median of the per-round ratios; server CPU
    per request (medians) is steadier than requests/s on a busy machine."""
    bare = {(w, case): results for w, case, kind, results, _ in rows if kind == "bare"}
    header = (
        f"{'workers':>7}  {'case':<10}  {'server':<6}  {'req/s':>8}  {'p50 ms':>7}  "
        f"{'p99 ms':>7}  {'non-2xx':>7}  {'/bare':>5}  {'rounds /bare':<24}  "
        f"{'cpu us/req':>10}  {'bare cpu/cpu':>12}  results"
    )
    print(header)
    print("-" * len(header))
    bare_cpu = {key: median([r.cpu_per_request for r in results]) for key, results in bare.items()}
    ratios: dict[tuple[int, str, str], float] = {}
    for workers, case, kind, results, exact in sorted(rows, key=lambda row: row[:2]):
        base = bare.get((workers, case))
        per_round = [r.rps / b.rps for r, b in zip(results, base, strict=True)] if base else []
        ratio = median(per_round) if per_round else float("nan")
        ratios[(workers, case, kind)] = ratio
        summed = total(results)
        cpu = median([r.cpu_per_request for r in results])
        print(
            f"{workers:>7}  {case:<10}  {kind:<6}  {median([r.rps for r in results]):>8.0f}  "
            f"{summed.p50:>7.2f}  {summed.p99:>7.2f}  {summed.non2xx:>7}  {ratio:>5.2f}  "
            f"{' '.join(f'{x:.2f}' for x in per_round):<24}  "
            f"{cpu:>10.0f}  {bare_cpu.get((workers, case), float('nan')) / cpu:>12.2f}  {exact}"
        )
    for (workers, case), _ in sorted(bare.items()):
        target = TARGETS[case] if workers == 1 else None
        goal = f" (target >= {target})" if target else ""
        print(
            f"{workers} worker(s), {case}: portal/bare "
            f"{ratios.get((workers, case, 'portal'), float('nan')):.2f}{goal}, "
            f"naive/bare {ratios.get((workers, case, 'naive'), float('nan')):.2f}"
        )


if __name__ == "__main__":
    raise SystemExit(main())
