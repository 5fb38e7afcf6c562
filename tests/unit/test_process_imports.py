"""What each long-running process loads at start-up, in a fresh interpreter as it starts: its own
database's driver only, no web stack in a worker, and the libraries of occasional paths (image
uploads, calendar files, e-mail, push) only once such a path is taken. The memory figures these
choices buy are measured in bench/memory.py, not here."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OCCASIONAL = ["PIL", "icalendar", "aiosmtplib", "py_vapid", "http_ece", "alembic"]


def loaded_after(code: str) -> set[str]:
    """The top-level and dotted module names a fresh interpreter holds after running `code`."""
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-800:]
    return set(json.loads(done.stdout.splitlines()[-1]))


def serve_on(url: str) -> str:
    return f"import ayni.cli, ayni.app\nfrom models import db\ndb.create_engine({url!r})"


WORKER_ON_POSTGRES = (
    "import ayni.cli, ayni.workers\n"
    "from models import db\n"
    "db.create_engine('postgresql+asyncpg://ayni@127.0.0.1/ayni')"
)


def test_a_server_on_sqlite_loads_neither_postgresql_driver_nor_dialect() -> None:
    loaded = loaded_after(serve_on("sqlite+aiosqlite:///ayni.db"))
    assert {"aiosqlite", "sqlalchemy.dialects.sqlite", "starlette.routing"} <= loaded
    assert "asyncpg" not in loaded
    assert "sqlalchemy.dialects.postgresql" not in loaded


def test_a_server_on_postgresql_loads_neither_sqlite_driver_nor_dialect() -> None:
    loaded = loaded_after(serve_on("postgresql+asyncpg://ayni@127.0.0.1/ayni"))
    assert {"asyncpg", "sqlalchemy.dialects.postgresql"} <= loaded
    assert not {"aiosqlite", "sqlite3", "sqlalchemy.dialects.sqlite"} & loaded


def test_a_worker_loads_no_web_stack_and_no_sqlite() -> None:
    loaded = loaded_after(WORKER_ON_POSTGRES)
    assert {"inbox.worker", "outbox.worker", "asyncpg"} <= loaded
    assert not {"jinja2", "starlette.routing", "uvicorn", "ayni.app", "ayni.web"} & loaded
    assert not {"aiosqlite", "sqlite3", "sqlalchemy.dialects.sqlite"} & loaded


def test_libraries_of_occasional_paths_are_not_loaded_at_start_up() -> None:
    for code in (serve_on("sqlite+aiosqlite:///ayni.db"), WORKER_ON_POSTGRES):
        loaded = loaded_after(code)
        assert not set(OCCASIONAL) & loaded, set(OCCASIONAL) & loaded
        # Checking a group's region reads CLDR's territories; nothing at start-up reads CLDR.
        loaded_after(f"{code}\nimport babel.localedata\nassert not babel.localedata._cache")


def test_the_occasional_paths_load_their_library_when_taken() -> None:
    """An image upload decodes with Pillow, a region is checked against CLDR, a configured mail
    server gets its worker: each loads what it needs on first use and works."""
    code = (
        "import io\n"
        "from models import images, group_settings\n"
        "from ayni.workers import queue_workers\n"
        "from models.settings import Settings\n"
        "assert 'PIL' not in sys.modules and 'aiosmtplib' not in sys.modules\n"
        "from PIL import Image\n"
        "png = io.BytesIO(); Image.new('RGB', (600, 600), 'red').save(png, 'PNG')\n"
        "prepared = images.prepare(png.getvalue(), images.Role.AVATAR)\n"
        "assert (prepared.width, prepared.height) == (400, 400)\n"
        "assert group_settings.region(' mx ') == 'MX'\n"
        "settings = Settings('https://aid.example', smtp_url='smtp://127.0.0.1:2525',\n"
        "                    mail_from='aid@aid.example')\n"
        "assert 'mail' in queue_workers(settings) and 'aiosmtplib' in sys.modules\n"
    )
    assert "aiosmtplib" in loaded_after(code)
