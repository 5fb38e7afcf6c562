"""The layering holds: ayni/ (the shell) -> inbox/, outbox/ -> models/ -> federation/.

Every import of every module of the five packages is read from its source (imports inside
functions included), so an upward import fails here, named, before it can become a cycle.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYERS = {"ayni": 3, "inbox": 2, "outbox": 2, "models": 1, "federation": 0}
PROJECT = {*LAYERS, "tests", "bench"}
# The protocol is pure: HTTP and JSON in, values out. No database, no web framework, no templates.
NOT_IN_FEDERATION = {"sqlalchemy", "starlette", "jinja2", "alembic", "asyncpg", "aiosqlite"}
# Requests, responses and pages are the shell's: below it nothing knows a web framework.
SHELL_ONLY = {"starlette", "jinja2"}


def modules() -> Iterator[tuple[str, Path]]:
    for package in LAYERS:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def imports(module: str, path: Path) -> Iterator[str]:
    """Every module named by an import statement, relative ones resolved."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: len(module.split(".")) - node.level + is_package]
                if node.module:
                    yield ".".join([*base, node.module])
                else:
                    yield from (".".join([*base, alias.name]) for alias in node.names)
            else:
                yield node.module or ""


def offence(module: str, imported: str) -> str | None:
    """Why this import breaks the layering, or None."""
    layer, target = module.split(".")[0], imported.split(".")[0]
    if layer == "federation" and (
        target in NOT_IN_FEDERATION or (target in PROJECT and target != layer)
    ):
        return (
            "federation/ imports nothing of the project, and no database, web or template library"
        )
    if layer != "ayni" and target in SHELL_ONLY:
        return f"{target} belongs to the shell (ayni/)"
    if target not in LAYERS or target == layer:
        return None
    if {layer, target} == {"inbox", "outbox"}:
        return "inbox/ and outbox/ do not import each other"
    if LAYERS[target] > LAYERS[layer]:
        return f"{layer}/ is below {target}/"
    return None


def violations() -> list[str]:
    found = []
    for module, path in modules():
        for imported in imports(module, path):
            why = offence(module, imported)
            if why is not None:
                found.append(f"{path.relative_to(ROOT)} ({module}) imports {imported}: {why}")
    return found


def test_no_module_imports_upward_or_across() -> None:
    found = violations()
    assert not found, "upward imports:\n" + "\n".join(found)


def test_the_walk_reads_every_package_and_sees_imports_inside_functions(tmp_path: Path) -> None:
    names = {module for module, _ in modules()}
    assert {
        "ayni.app",
        "inbox.worker",
        "outbox.worker",
        "models.queue",
        "federation.vocab",
    } <= names
    source = tmp_path / "late.py"
    source.write_text("def f():\n    from ayni import app\n    from . import sibling\n")
    assert set(imports("models.late", source)) == {"ayni", "models.sibling"}


def test_an_offence_is_named() -> None:
    assert offence("models.items", "ayni.runtime") == "models/ is below ayni/"
    assert offence("inbox.worker", "outbox.hosts") == "inbox/ and outbox/ do not import each other"
    assert offence("outbox.jobs", "inbox.store") == "inbox/ and outbox/ do not import each other"
    assert offence("federation.client", "sqlalchemy.orm") is not None
    assert offence("federation.client", "models.db") is not None
    assert (
        offence("outbox.worker", "starlette.requests") == "starlette belongs to the shell (ayni/)"
    )
    assert offence("ayni.app", "inbox.worker") is None
    assert offence("inbox.worker", "models.queue") is None
    assert offence("models.runtime", "federation.client") is None
    assert offence("federation.client", "httpx") is None


def test_the_process_entry_modules_import_first_in_a_fresh_interpreter() -> None:
    """A worker process imports `models.runtime` before anything else: an import cycle through
    the table modules shows only then (a worker that cannot start is a silent outage)."""
    import subprocess
    import sys

    for module in ("models.runtime", "outbox.worker", "inbox.worker", "ayni.workers"):
        done = subprocess.run(
            [sys.executable, "-c", f"import {module}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, f"import {module}: {done.stderr[-500:]}"
