#!/usr/bin/env bash
# A PostgreSQL server on 127.0.0.1:5432 with a database for the store's tests.
#
# Idempotent, as root: installs Debian's postgresql when absent, starts its
# cluster when it is down, and makes the role and database below. The tests read
# the URL from TEST_POSTGRES_URL (the Makefile exports it).
set -euo pipefail

ROLE=${TEST_POSTGRES_ROLE:-ci_bot}
PASSWORD=${TEST_POSTGRES_PASSWORD:-ci_bot}
DATABASE=${TEST_POSTGRES_DB:-ci_bot_test}

say() { echo "ensure-postgres: $*" >&2; }

if ! command -v pg_lsclusters >/dev/null 2>&1; then
    say "installing Debian's postgresql"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q postgresql
fi

read -r version cluster _ status _ < <(pg_lsclusters --no-header | head -n 1)
if [ -z "${version:-}" ]; then
    say "no cluster exists; creating one"
    pg_createcluster 15 main
    read -r version cluster _ status _ < <(pg_lsclusters --no-header | head -n 1)
fi
if [ "$status" != "online" ]; then
    say "starting cluster $version/$cluster"
    pg_ctlcluster "$version" "$cluster" start
fi

psql_as_postgres() { su postgres -c "psql -v ON_ERROR_STOP=1 -qtA -c \"$1\""; }
if [ "$(psql_as_postgres "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" != "1" ]; then
    psql_as_postgres "CREATE ROLE $ROLE LOGIN PASSWORD '$PASSWORD' CREATEDB"
fi
if [ "$(psql_as_postgres "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")" != "1" ]; then
    psql_as_postgres "CREATE DATABASE $DATABASE OWNER $ROLE"
fi
say "PostgreSQL is up: $DATABASE for $ROLE on 127.0.0.1:5432"
