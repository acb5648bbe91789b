#!/bin/sh
# Install the MariaDB server and client the MySQL integration tests start (tests/mariadb.py).
# Run as root on a fresh Debian/Ubuntu machine; safe to run twice.
set -eu
if command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ]; then
    if command -v mysqldump >/dev/null 2>&1 || command -v mariadb-dump >/dev/null 2>&1; then
        exit 0
    fi
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends mariadb-server mariadb-client >/dev/null
