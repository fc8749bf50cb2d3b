#!/usr/bin/env bash
# Make sure the services of the service tests are up, installing them from the
# Debian archive only when they are missing:
#   PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth, database "test"),
#   Redis on 127.0.0.1:6379,
#   Chromium at /usr/bin/chromium (Playwright drives it; it never downloads one),
#   GNU gettext (msgfmt, msgcmp: `make lint` checks the translation catalogs).
# Idempotent: a service that already answers is used as it is. Needs root only
# to install or start something.
set -euo pipefail

log() { printf '[services] %s\n' "$*"; }

APT_UPDATED=0
apt_install() {
    if [ "$APT_UPDATED" = 0 ]; then
        log "apt-get update"
        apt-get -o DPkg::Lock::Timeout=600 update -qq
        APT_UPDATED=1
    fi
    log "apt-get install $*"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
        --no-install-recommends "$@" >/dev/null
}

wait_for() {  # wait_for <what> <seconds> <command...>
    local what=$1 seconds=$2
    shift 2
    for _ in $(seq "$seconds"); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 1
    done
    log "ERROR: $what did not come up within ${seconds}s"
    return 1
}

# --- PostgreSQL ---------------------------------------------------------------------

postgres_up() { command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432; }

start_postgres() {
    command -v pg_ctlcluster >/dev/null || apt_install postgresql
    local version
    version=$(ls /etc/postgresql | sort -V | tail -n1)
    [ -n "$version" ] || { log "ERROR: no PostgreSQL cluster in /etc/postgresql"; return 1; }
    local conf=/etc/postgresql/$version/main
    # CI only: trust local TCP connections, so DATABASE_URL needs no password.
    if ! grep -q '^host all all 127.0.0.1/32 trust' "$conf/pg_hba.conf"; then
        sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$conf/pg_hba.conf"
    fi
    log "starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start \
        || pg_ctlcluster --skip-systemctl-redirect "$version" main reload
    wait_for PostgreSQL 30 pg_isready -q -h 127.0.0.1 -p 5432
}

if postgres_up; then
    log "PostgreSQL answers on 127.0.0.1:5432"
else
    start_postgres
fi
if ! psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1" >/dev/null 2>&1; then
    log "ERROR: cannot connect as postgres@127.0.0.1 without a password (pg_hba.conf?)"
    exit 1
fi
if [ "$(psql -h 127.0.0.1 -U postgres -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = 'test'")" != 1 ]; then
    log "creating database test"
    createdb -h 127.0.0.1 -U postgres test
fi

# --- Redis --------------------------------------------------------------------------

redis_up() {
    command -v redis-cli >/dev/null && [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = PONG ]
}

if redis_up; then
    log "Redis answers on 127.0.0.1:6379"
else
    command -v redis-server >/dev/null || { apt_install redis-server; sleep 2; }
    # The package's own init script may have started one meanwhile.
    if ! redis_up; then
        log "starting Redis"
        redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
        wait_for Redis 20 redis_up
    fi
fi

# --- Chromium -----------------------------------------------------------------------

if [ -x /usr/bin/chromium ]; then
    log "Chromium at /usr/bin/chromium"
else
    apt_install chromium
    [ -x /usr/bin/chromium ] || { log "ERROR: /usr/bin/chromium missing after install"; exit 1; }
fi
log "$(/usr/bin/chromium --version 2>/dev/null || echo 'chromium --version failed')"

# --- gettext ------------------------------------------------------------------------

if command -v msgfmt >/dev/null && command -v msgcmp >/dev/null; then
    log "gettext: $(msgfmt --version | sed -n 1p)"
else
    apt_install gettext
fi
