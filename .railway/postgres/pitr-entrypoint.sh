#!/bin/sh
# Start PostgreSQL through the base image's own entrypoint, with a side loop that creates the
# pgBackRest stanza once the server is up and takes base backups: a full one every
# PITR_FULL_EVERY_DAYS days, a differential one every other day. WAL is archived by PostgreSQL
# itself (archive_command in the Dockerfile's CMD), at least every archive_timeout (60 s) while
# anything is written: the RPO of docs/OPERATIONS.md.
set -eu
# Railway's bucket gives an endpoint URL; pgBackRest wants the host name alone.
PGBACKREST_REPO1_S3_ENDPOINT="${PGBACKREST_REPO1_S3_ENDPOINT#https://}"
export PGBACKREST_REPO1_S3_ENDPOINT

base_backups() {
    until pg_isready -q -h localhost; do sleep 5; done
    gosu postgres pgbackrest stanza-create || true  # idempotent; fails only when the repository differs
    day=0
    while true; do
        if [ $((day % PITR_FULL_EVERY_DAYS)) -eq 0 ]; then kind=full; else kind=diff; fi
        gosu postgres pgbackrest backup --type="$kind" || echo "pitr: $kind base backup failed" >&2
        day=$((day + 1))
        sleep 86400
    done
}

base_backups &
exec docker-entrypoint.sh "$@"
