"""`deploy/` holds together: the compose file names only files and settings that exist, the
image is pinned and checks its health, the systemd units are hardened and valid, and the nginx
and Caddy examples pass their own tools' checks. A check whose tool is missing skips (`.ci/run`
installs nginx and caddy); systemd-analyze needs no running systemd.
"""

import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
# Every setting `ayni.settings` reads, from its source: what a deployment may set.
SETTINGS = set(re.findall(r'"(AYNI_[A-Z_]+)"', (ROOT / "ayni" / "settings.py").read_text()))
HARDENING = {
    "ProtectHome": "true",
    "PrivateDevices": "true",
    "ProtectKernelTunables": "true",
    "ProtectKernelModules": "true",
    "ProtectKernelLogs": "true",
    "ProtectControlGroups": "true",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    "SystemCallFilter": "@system-service",
    "CapabilityBoundingSet": "",
    "RestartSec": "5",
    "UMask": "0077",
    "NoNewPrivileges": "true",
}


def tool(name: str) -> str:
    found = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.access(p, os.X_OK)), None
    )
    if found is None:
        pytest.skip(f"{name} is not installed")
    return found


def compose() -> dict[str, object]:
    loaded = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


# --- compose ---


def test_compose_names_only_files_that_exist() -> None:
    services = compose()["services"]
    assert isinstance(services, dict)
    for name, service in services.items():
        build = service.get("build")
        if build:
            context = (DEPLOY / build["context"]).resolve()
            assert (context / build["dockerfile"]).is_file(), name
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith((".", "/")):
                assert (DEPLOY / source).exists(), (name, source)


def test_compose_sets_only_settings_that_exist_and_trusts_its_own_network() -> None:
    loaded = compose()
    services = loaded["services"]
    assert isinstance(services, dict)
    # The services that run Ayni (Caddy's AYNI_HOST is its own, for the Caddyfile).
    ayni = [s for s in services.values() if "build" in s]
    named = {key for s in ayni for key in s.get("environment", {}) if key.startswith("AYNI_")}

    assert named <= SETTINGS, named - SETTINGS
    subnet = loaded["networks"]["default"]["ipam"]["config"][0]["subnet"]  # type: ignore[index]
    assert services["app"]["environment"]["AYNI_TRUSTED_PROXIES"] == subnet


def test_compose_waits_for_healthy_services() -> None:
    services = compose()["services"]
    assert isinstance(services, dict)

    assert "healthcheck" in services["db"] and "healthcheck" in services["caddy"]
    assert services["app"]["depends_on"]["db"] == {"condition": "service_healthy"}
    assert services["worker"]["depends_on"]["app"] == {"condition": "service_healthy"}
    assert services["caddy"]["depends_on"]["app"] == {"condition": "service_healthy"}
    for service in services.values():  # a pinned version, not a moving major tag
        if "image" in service:
            assert re.search(r":\d+\.\d+", service["image"]), service["image"]


# --- the image ---


def test_the_image_is_pinned_installs_dependencies_first_and_checks_its_health() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    steps = [line.split()[0] for line in dockerfile.splitlines() if re.match(r"^[A-Z]+ ", line)]
    text = " ".join(dockerfile.split())

    assert re.search(
        r"^FROM python:3\.11\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?$", dockerfile, re.MULTILINE
    )
    assert "HEALTHCHECK" in steps and "/healthz" in text
    dependencies = text.index("pip install --no-cache-dir .")
    assert dependencies < text.index("COPY ayni ayni") < text.index("--no-deps")
    for source in re.findall(r"^COPY (\S+(?: \S+)*) \S+$", dockerfile, re.MULTILINE):
        for path in source.split():
            assert (ROOT / path).exists(), path
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "tests"} <= set(ignored)


# --- systemd ---


def unit_settings(unit: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in unit.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            found.setdefault(key.strip(), value.strip())
    return found


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_units_are_hardened(unit: Path) -> None:
    settings = unit_settings(unit)

    assert {k: settings.get(k) for k in HARDENING} == HARDENING


def runnable_copy(unit: Path, directory: Path) -> Path:
    """The unit with its ExecStart pointing at this checkout's `ayni`: verify checks that the
    command exists."""
    copy = directory / unit.name
    ayni = Path(sys.executable).parent / "ayni"
    copy.write_text(unit.read_text().replace("/srv/ayni/.venv/bin/ayni", str(ayni)))
    return copy


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_systemd_analyze_verifies_the_units(unit: Path, tmp_path: Path) -> None:
    analyze = tool("systemd-analyze")

    done = subprocess.run(
        [analyze, "verify", str(runnable_copy(unit, tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0 and not done.stderr.strip(), done.stderr


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_the_units_exposure_is_below_4(unit: Path, tmp_path: Path) -> None:
    analyze = tool("systemd-analyze")

    done = subprocess.run(
        [analyze, "security", "--offline=true", str(runnable_copy(unit, tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    score = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", done.stdout)
    if score is None:
        pytest.skip(f"this systemd-analyze cannot judge a unit offline: {done.stderr.strip()}")
    assert float(score.group(1)) < 4.0, done.stdout


# --- proxies ---


def self_signed(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "aid.example.org")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert, private = directory / "fullchain.pem", directory / "privkey.pem"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert, private


def test_the_nginx_example_passes_nginx_t_with_placeholder_certificates(tmp_path: Path) -> None:
    nginx = tool("nginx")
    cert, key = self_signed(tmp_path)
    example = (DEPLOY / "nginx.conf").read_text()
    site = tmp_path / "ayni.conf"
    site.write_text(
        example.replace("/etc/letsencrypt/live/aid.example.org/fullchain.pem", str(cert))
        .replace("/etc/letsencrypt/live/aid.example.org/privkey.pem", str(key))
        .replace("listen 80;", "listen 127.0.0.1:18080;")
        .replace("listen 443 ", "listen 127.0.0.1:18443 ")
        .replace("listen [::]:80;", "")
        .replace("listen [::]:443 ssl http2;", "")
    )
    main = tmp_path / "nginx.conf"
    temp = {name: tmp_path / name for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")}
    main.write_text(
        f"pid {tmp_path / 'nginx.pid'};\nerror_log {tmp_path / 'error.log'};\n"
        "events {}\nhttp {\n"
        f"  access_log off;\n"
        + "".join(f"  {name}_temp_path {path};\n" for name, path in temp.items())
        + f"  include {site};\n}}\n"
    )

    done = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(main)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert "proxy_set_header Host $http_host;" in example  # never $host: it drops the port
    assert "/.well-known/acme-challenge/" in example and "return 301 https://" in example


def test_the_caddyfile_passes_caddy_validate() -> None:
    caddy = tool("caddy")

    done = subprocess.run(
        [caddy, "validate", "--config", str(DEPLOY / "Caddyfile"), "--adapter", "caddyfile"],
        env={**os.environ, "AYNI_HOST": "aid.example.org", "HOME": str(ROOT / ".venv")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
