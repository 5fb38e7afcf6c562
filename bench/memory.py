"""Benchmark: where an idle `ayni serve` and `ayni worker` keep their memory.

    .venv/bin/python bench/memory.py [--postgres URL] [--settle 8]

Prints, in MB of resident memory (VmRSS, with its anonymous and file-backed parts):

  imports         for `serve` on SQLite and `worker` on PostgreSQL, a fresh interpreter
                  importing in turn what that process needs: first the libraries every process
                  needs (asyncio, SQLAlchemy, the database's driver, cryptography, httpx: the
                  floor), then the tables, then the rest of the process's own imports, and which
                  heavy libraries that leaves loaded; then each heavy library on its own (what it
                  would add if it were imported at start-up)
  serve           `ayni serve` (its queue workers included) once /healthz answers and it has
                  settled; again after 50 requests (pages, an actor, WebFinger), with their
                  median time
  worker          `ayni worker` (PostgreSQL only: it refuses SQLite) once it has settled

on SQLite and, when --postgres or AYNI_TEST_POSTGRES_URL is given, on PostgreSQL (a fresh
database, dropped afterwards). Targets: idle `serve` under 75 MB, idle `worker` under 60 MB;
each figure is printed with its ratio to the target and PASS or FAIL.
"""

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

SERVE_TARGET = 75.0
WORKER_TARGET = 60.0
# What every process needs, imported in this order; the driver step opens no connection, but
# loads the dialect and driver of the URL, as the process's engine does.
FLOOR = (
    ("asyncio (and ssl)", "import asyncio"),
    ("sqlalchemy (core, orm, asyncio)", "import sqlalchemy.ext.asyncio, sqlalchemy.orm"),
    ("the driver and its dialect", "sqlalchemy.ext.asyncio.create_async_engine(URL)"),
    ("cryptography (RSA)", "import cryptography.hazmat.primitives.asymmetric.rsa"),
    ("httpx", "import httpx"),
)
PROCESSES = (
    ("serve on SQLite", "sqlite+aiosqlite:///ayni.db", "import ayni.cli, ayni.app"),
    (
        "worker on PostgreSQL",
        "postgresql+asyncpg://ayni@127.0.0.1/ayni",
        "import ayni.cli, ayni.workers",
    ),
)
# Each on its own, after the floor: what importing it at start-up would cost.
HEAVY = (
    "alembic.command",
    "babel.dates",
    "phonenumbers",
    "markdown_it",
    "nh3",
    "jinja2",
    "starlette.routing",
    "icalendar",
    "PIL.Image",
    "email_validator",
    "aiosmtplib",
    "py_vapid",
    "http_ece",
    "prometheus_client",
    "argon2",
    "http_sf",
)
RSS = """
def rss():
    fields = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return " ".join(str(int(fields[k].split()[0]) / 1024) for k in ("VmRSS", "RssAnon", "RssFile"))
"""
PROBE = """
import sys
print("python", rss())
for name, statement in FLOOR:
    exec(statement)
    print(name, rss())
import models.db
print("the tables (models.db)", rss())
exec(OWN)
print("the rest of its own imports", rss())
print("loaded", ",".join(m for m in HEAVY if m in sys.modules))
"""


@dataclass(frozen=True)
class Rss:
    total: float
    anon: float
    files: float

    def __str__(self) -> str:
        return f"{self.total:.1f} MB ({self.anon:.1f} anon + {self.files:.1f} files)"


def rss_of(pid: int) -> Rss:
    """The process's resident memory: anonymous (its heap, Python's objects) and file-backed
    (the shared libraries' pages it has touched, shared with other processes)."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    mb = {key: int(fields[key].split()[0]) / 1024 for key in ("VmRSS", "RssAnon", "RssFile")}
    return Rss(mb["VmRSS"], mb["RssAnon"], mb["RssFile"])


def verdict(figure: Rss, target: float) -> str:
    ratio = figure.total / target
    return f"target < {target:.0f}: {ratio:.2f} of it, {'PASS' if ratio < 1 else 'FAIL'}"


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
    print("imports (MB of RSS added by each step, in one interpreter; anon + files):")
    for process, url, own in PROCESSES:
        print(f"  {process}:")
        code = f"FLOOR = {FLOOR!r}\nHEAVY = {HEAVY!r}\nURL = {url!r}\nOWN = {own!r}\n{RSS}{PROBE}"
        previous = 0.0
        for line in probe(code):
            if line.startswith("loaded"):
                print(f"    heavy libraries it has loaded: {line.partition(' ')[2] or 'none'}")
                continue
            name, total, anon, files = line.rsplit(" ", 3)
            added, split = float(total) - previous, f"{float(anon):.1f} + {float(files):.1f}"
            print(f"    {name:<34} {added:5.1f}  (total {float(total):5.1f}: {split})")
            previous = float(total)
    print("each heavy library alone, on top of the floor:")
    floor = "\n".join(statement for _, statement in FLOOR[:2] + FLOOR[3:])
    for module in HEAVY:
        code = f"{floor}\n{RSS}before = float(rss().split()[0])\nimport {module}\n"
        code += "print(float(rss().split()[0]) - before)"
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


def measure_serve(env: dict[str, str], settle: float) -> tuple[Rss, Rss, float]:
    """Idle RSS, RSS after 50 requests, and those requests' median time in ms."""
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
        times = []
        with httpx.Client(base_url=base) as http:
            for n in range(50):
                path = ("/", "/login", "/actor", "/.well-known/nodeinfo", "/healthz")[n % 5]
                began = time.perf_counter()
                http.get(path, headers={"Accept": "text/html"})
                times.append(time.perf_counter() - began)
            http.get("/.well-known/webfinger", params={"resource": "acct:rosa@127.0.0.1"})
        time.sleep(settle / 2)
        return idle, rss_of(process.pid), statistics.median(times) * 1000
    finally:
        stop(process)


def measure_worker(env: dict[str, str], settle: float) -> Rss:
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
        idle, used, median = measure_serve(env, settle)
        print(f"{kind}: serve idle {idle}; {verdict(idle, SERVE_TARGET)}")
        print(
            f"{kind}: serve after 50 requests {used.total:.1f} MB "
            f"(+{used.total - idle.total:.1f}; median request {median:.1f} ms)"
        )
        if database_url:
            worker = measure_worker(env, settle)
            print(f"{kind}: worker idle {worker}; {verdict(worker, WORKER_TARGET)}")


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
