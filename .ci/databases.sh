#!/usr/bin/env bash
# Database servers for test/db: installs PostgreSQL and MariaDB from Debian, starts them on loopback
# without an init system, creates a test user and database in each, and prints the URLs the tests
# read. Safe to run again: everything that exists already is kept. Progress goes to stderr, so
#   eval "$(bash .ci/databases.sh)"
# exports SIPSD_TEST_PG_URL and SIPSD_TEST_MYSQL_URL. Also installs the compiler that
# better-sqlite3 builds with (no prebuilt binaries can be downloaded here): run it before npm install.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
# Only the exports may reach stdout (the caller evals it): every tool's chatter, such as
# pg_ctlcluster's "Removed stale pid file", goes to stderr; the exports are written to fd 3.
# The servers started below close fd 3, or the caller would wait for them to exit.
exec 3>&1 1>&2

USER_NAME=sipsd_test
PASSWORD=sipsd_test
DB_NAME=sipsd_test
PG_PORT=5432
MYSQL_PORT=3306

say() { echo ".ci/databases.sh: $*" >&2; }
quiet() { "$@" >/dev/null 2>&1; }

if [ "$(id -u)" != 0 ]; then
  say "must run as root (it installs and starts database servers)"
  exit 1
fi

need=()
command -v pg_ctlcluster >/dev/null || need+=(postgresql)
command -v mariadbd >/dev/null || command -v mysqld >/dev/null || need+=(mariadb-server mariadb-client)
command -v g++ >/dev/null || need+=(g++)
command -v make >/dev/null || need+=(make)
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  apt-get update -qq
  # Debian's policy-rc.d in containers refuses to start services here; they are started below.
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# --- PostgreSQL: the packaged cluster of the newest installed version, started with pg_ctlcluster.
pg_version=$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n 1)
if [ ! -d "/etc/postgresql/$pg_version/main" ]; then
  say "creating PostgreSQL $pg_version cluster"
  quiet pg_createcluster --port "$PG_PORT" "$pg_version" main
fi
if ! quiet pg_isready -q -h 127.0.0.1 -p "$PG_PORT"; then
  say "starting PostgreSQL $pg_version"
  # A machine restored from a snapshot (or a killed server) leaves pid and socket lock files behind,
  # and PostgreSQL refuses to start over them: remove those whose process is gone or a zombie.
  for lock in "/var/lib/postgresql/$pg_version/main/postmaster.pid" /var/run/postgresql/.s.PGSQL."$PG_PORT".lock; do
    [ -f "$lock" ] || continue
    owner=$(head -n 1 "$lock")
    state=$(awk '/^State:/ { print $2 }' "/proc/$owner/status" 2>/dev/null || true)
    if [ -z "$state" ] || [ "$state" = Z ]; then rm -f "$lock"; fi
  done
  pg_ctlcluster "$pg_version" main start 3>&-
  for _ in $(seq 1 30); do quiet pg_isready -q -h 127.0.0.1 -p "$PG_PORT" && break; sleep 1; done
fi
pg() { su postgres -c "psql -p $PG_PORT -v ON_ERROR_STOP=1 -qtA -c \"$1\""; }
if [ "$(pg "SELECT 1 FROM pg_roles WHERE rolname = '$USER_NAME'")" != 1 ]; then
  pg "CREATE ROLE $USER_NAME LOGIN PASSWORD '$PASSWORD'"
fi
if [ "$(pg "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" != 1 ]; then
  pg "CREATE DATABASE $DB_NAME OWNER $USER_NAME"
fi

# --- MariaDB: mysqld_safe in the background (no systemd here), listening on loopback only.
mysql_ping() { quiet mariadb-admin --protocol=socket -uroot ping; }
if ! mysql_ping; then
  say "starting MariaDB"
  install -d -o mysql -g mysql /run/mysqld
  pgrep -x mariadbd >/dev/null || pgrep -x mysqld >/dev/null || rm -f /run/mysqld/mysqld.pid /run/mysqld/mysqld.sock
  [ -d /var/lib/mysql/mysql ] || quiet mariadb-install-db --user=mysql --datadir=/var/lib/mysql
  # setsid + redirects: the server outlives this script and holds none of its pipes open.
  setsid mysqld_safe --user=mysql --bind-address=127.0.0.1 --port="$MYSQL_PORT" </dev/null >/dev/null 2>&1 3>&- &
  for _ in $(seq 1 60); do mysql_ping && break; sleep 1; done
  mysql_ping || { say "MariaDB did not start; see /var/log/mysql or journal"; exit 1; }
fi
# The tests connect over TCP to 127.0.0.1, which MariaDB matches against the host 'localhost' only
# for socket connections: both hosts get the user.
mariadb --protocol=socket -uroot <<SQL
CREATE DATABASE IF NOT EXISTS $DB_NAME;
CREATE USER IF NOT EXISTS '$USER_NAME'@'127.0.0.1' IDENTIFIED BY '$PASSWORD';
CREATE USER IF NOT EXISTS '$USER_NAME'@'localhost' IDENTIFIED BY '$PASSWORD';
GRANT ALL PRIVILEGES ON $DB_NAME.* TO '$USER_NAME'@'127.0.0.1';
GRANT ALL PRIVILEGES ON $DB_NAME.* TO '$USER_NAME'@'localhost';
SQL

say "PostgreSQL $pg_version on 127.0.0.1:$PG_PORT and MariaDB on 127.0.0.1:$MYSQL_PORT are ready"
echo "export SIPSD_TEST_PG_URL=postgres://$USER_NAME:$PASSWORD@127.0.0.1:$PG_PORT/$DB_NAME" >&3
echo "export SIPSD_TEST_MYSQL_URL=mysql://$USER_NAME:$PASSWORD@127.0.0.1:$MYSQL_PORT/$DB_NAME" >&3
