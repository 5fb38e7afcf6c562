"""Benchmark: where an idle `ayni serve` and `ayni worker` keep their memory.

    .venv/bin/python bench/memory.py [--postgres URL] [--settle 8]

Prints, in MB of resident memory (VmRSS):

  imports         a fresh interpreter importing, in turn, what a process needs: the database
                  layer, the web framework, everything `ayni serve` imports; then each heavy
                  library on its own (what it would add if it were imported at start-up), and
                  which of them an idle `serve` has loaded
  serve           `ayni serve` (its queue workers included) once /healthz answers and it has
                  settled; again after 50 requests (pages, an actor, WebFinger)
  worker          `ayni worker` (PostgreSQL only: it refuses SQLite) once it has settled

on SQLite and, when --postgres or AYNI_TEST_POSTGRES_URL is given, on PostgreSQL (a fresh
database, dropped afterwards). Targets: idle `serve` under 75 MB, idle `worker` under 60 MB.
"""

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

SERVE_TARGET = 75.0
WORKER_TARGET = 60.0
# Imported one after the other in one interpreter: each figure is what that step added.
STAGES = (
    ("python", ""),
    ("sqlalchemy + drivers", "import sqlalchemy.ext.asyncio, aiosqlite, asyncpg"),
    ("starlette + uvicorn + httpx", "import starlette.applications, uvicorn, httpx"),
    ("the tables (models.db)", "import models.db"),
    ("everything serve imports", "import ayni.cli, ayni.app"),
)
# Each on its own, after everything serve imports: what importing it at start-up would cost.
HEAVY = (
    "alembic.command",
    "babel.dates",
    "phonenumbers",
    "markdown_it",
    "nh3",
    "jinja2",
    "email_validator",
    "aiosmtplib",
    "prometheus_client",
    "cryptography.hazmat.primitives.asymmetric.rsa",
    "argon2",
    "http_sf",
)
PROBE = """
import sys, importlib
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
print("python", rss())
for name, statement in STAGES[1:]:
    exec(statement)
    print(name, rss())
base = rss()
loaded = [m for m in HEAVY if m in sys.modules]
print("loaded", ",".join(loaded))
"""
WORKER_PROBE = """
import sys
import ayni.cli
print(",".join(m for m in HEAVY + ("starlette", "jinja2", "uvicorn") if m in sys.modules))
"""


def rss_of(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise LookupError(pid)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def probe(code: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return out.stdout.splitlines()


def imports() -> None:
    print("imports (MB of RSS added by each step, in one interpreter):")
    lines = probe(f"STAGES = {STAGES!r}\nHEAVY = {HEAVY!r}\n{PROBE}")
    previous = 0.0
    for line in lines:
        name, _, value = line.rpartition(" ")
        if name == "loaded" or line.startswith("loaded"):
            loaded = line.partition(" ")[2]
            print(f"  heavy modules loaded by serve's imports: {loaded or 'none'}")
            continue
        figure = float(value)
        print(f"  {name:<32} {figure - previous:6.1f}  (total {figure:.1f})")
        previous = figure
    worker = probe(f"HEAVY = {HEAVY!r}\n{WORKER_PROBE}")[-1]
    print(f"  heavy modules loaded by the worker's imports: {worker or 'none'}")
    print("each heavy library alone, on top of the database layer and the web framework:")
    for module in HEAVY:
        code = (
            f"{STAGES[1][1]}\n{STAGES[2][1]}\n"
            "def rss():\n"
            "    for line in open('/proc/self/status'):\n"
            "        if line.startswith('VmRSS:'):\n"
            "            return int(line.split()[1]) / 1024\n"
            f"before = rss()\nimport {module}\nprint(rss() - before)"
        )
        print(f"  {module:<48} {float(probe(code)[-1]):5.1f}")


def ayni(args: list[str], env: dict[str, str], **kwargs: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "ayni", *args], env=env, cwd=env["AYNI_HOME"], **kwargs
    )


def init(env: dict[str, str]) -> None:
    command = ["init", "--base-url", env["AYNI_BASE_URL"], "--admin", "rosa", "--password-stdin"]
    done = subprocess.run(
        [sys.executable, "-m", "ayni", *command],
        env=env,
        cwd=env["AYNI_HOME"],
        input=b"a long enough password\n",
        capture_output=True,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"ayni init failed: {done.stderr.decode().strip()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def measure_serve(env: dict[str, str], settle: float) -> tuple[float, float]:
    port = int(env["AYNI_BASE_URL"].rpartition(":")[2])
    process = ayni(
        ["serve", "--port", str(port)], env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        base = env["AYNI_BASE_URL"]
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise SystemExit("ayni serve did not come up")
            time.sleep(0.2)
        time.sleep(settle)
        idle = rss_of(process.pid)
        with httpx.Client(base_url=base) as http:
            for n in range(50):
                path = ("/", "/login", "/actor", "/.well-known/nodeinfo", "/healthz")[n % 5]
                http.get(path, headers={"Accept": "text/html"})
            http.get("/.well-known/webfinger", params={"resource": "acct:rosa@127.0.0.1"})
        time.sleep(settle / 2)
        return idle, rss_of(process.pid)
    finally:
        stop(process)


def measure_worker(env: dict[str, str], settle: float) -> float:
    process = ayni(["worker"], env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(settle + 2)
        if process.poll() is not None:
            raise SystemExit("ayni worker exited")
        return rss_of(process.pid)
    finally:
        stop(process)


async def create_database(admin_url: str, name: str, drop: bool = False) -> None:
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as connection:
        statement = f'DROP DATABASE IF EXISTS "{name}"' if drop else f'CREATE DATABASE "{name}"'
        await connection.execute(text(statement))
    await engine.dispose()


def run(kind: str, database_url: str | None, settle: float) -> None:
    with tempfile.TemporaryDirectory(prefix="ayni-memory-") as home:
        env = {
            **os.environ,
            "AYNI_HOME": home,
            "AYNI_CONFIG": str(Path(home) / "ayni.toml"),
            "AYNI_BASE_URL": f"http://127.0.0.1:{free_port()}",
            "AYNI_DATABASE_URL": database_url or f"sqlite+aiosqlite:///{home}/ayni.db",
            "PYTHONPATH": str(ROOT),
        }
        init(env)
        idle, used = measure_serve(env, settle)
        print(f"{kind}: serve idle {idle:.1f} MB, after 50 requests {used:.1f} MB", end="")
        print(f" (target < {SERVE_TARGET:.0f})")
        if database_url:
            worker = measure_worker(env, settle)
            print(f"{kind}: worker idle {worker:.1f} MB (target < {WORKER_TARGET:.0f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=os.environ.get("AYNI_TEST_POSTGRES_URL"))
    parser.add_argument("--settle", type=float, default=8.0, help="seconds idle before measuring")
    parser.add_argument("--no-imports", action="store_true", help="skip the import breakdown")
    args = parser.parse_args()
    if not args.no_imports:
        imports()
    run("SQLite", None, args.settle)
    if args.postgres:
        name = f"ayni_memory_{uuid.uuid4().hex[:8]}"
        url = make_url(args.postgres)
        asyncio.run(create_database(args.postgres, name))
        try:
            run("PostgreSQL", url.set(database=name).render_as_string(False), args.settle)
        finally:
            asyncio.run(create_database(args.postgres, name, drop=True))


if __name__ == "__main__":
    main()
