#!/usr/bin/env bash
# Back up an Ayni instance: the database (which holds every actor's private key) and ayni.toml.
# Keys must never be lost or regenerated: other servers reject an actor whose key changes.
# Usage: deploy/backup.sh /srv/ayni /var/backups/ayni
set -euo pipefail
home=${1:?instance directory}; out=${2:?backup directory}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out"; chmod 700 "$out"
config="$home/ayni.toml"
url=$(grep -E '^database_url' "$config" | sed -E 's/^database_url *= *"(.*)"/\1/' || true)
cp "$config" "$out/ayni-$stamp.toml"
case "$url" in
  postgresql*) pg_dump --format=custom --file="$out/ayni-$stamp.pgdump" "${url/+asyncpg/}" ;;
  *) db=${url#sqlite+aiosqlite:///}; [ -n "$db" ] || db=ayni.db
     (cd "$home" && sqlite3 "$db" ".backup '$out/ayni-$stamp.db'") ;;
esac
echo "backed up to $out (ayni-$stamp.*)"
