#!/usr/bin/env bash
# A dated `ayni backup` (the database, with every actor's key, the config and a manifest), for
# cron or a systemd timer. Run it as the instance's user, where `ayni` finds its settings:
#   sudo -u ayni AYNI_CONFIG=/srv/ayni/ayni.toml deploy/backup.sh /var/backups/ayni
# Restore with `ayni restore DIR` (README, "Back up and restore").
set -euo pipefail
out=${1:?backup directory}
ayni=${AYNI:-ayni}
exec "$ayni" backup "$out/$(date -u +%Y%m%dT%H%M%SZ)"
