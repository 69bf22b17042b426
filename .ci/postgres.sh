# shellcheck shell=bash
# Sourced by .ci/run: makes sure a PostgreSQL server answers and exports
# CALLBASE_TEST_POSTGRES_URL for the test suite. Order of preference:
#   1. an already-exported CALLBASE_TEST_POSTGRES_URL that answers,
#   2. the machine's server on 127.0.0.1:5432 (trust auth, `postgres` role),
#   3. a throwaway server in a temp dir on a free port, stopped on exit.
# CALLBASE_CI_PRIVATE_POSTGRES=1 skips 1 and 2, so path 3 can be exercised on
# a machine that already has a server.
# Side effects on the sourcing shell: sets an EXIT trap (chained with any
# existing one) when it starts a private server, and calls `exit 1` on failure
# because CI must not go on to run the tests without a database.

_cbpg_die() { echo "== postgres: ERROR: $*" >&2; exit 1; }

_cbpg_bindir() {
  local d
  # sort -V so that 9.6 < 10 < 16.
  d=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  [[ -x $d/initdb && -x $d/pg_ctl ]] && echo "$d"
}

_cbpg_ready() {  # args: pg_isready connection options
  local isready
  if ! isready=$(command -v pg_isready); then isready="$(_cbpg_bindir || :)/pg_isready"; fi
  # No client tools means no local server either; the install path fixes both.
  [[ -x $isready ]] && "$isready" -q -t 5 "$@" >/dev/null 2>&1
}

_cbpg_use_existing() {
  # Once we started a private server, a second sourcing should reuse it.
  [[ ${CALLBASE_CI_PRIVATE_POSTGRES:-} == 1 && -z ${_CBPG_DIRS:-} ]] && return 1
  if [[ -n ${CALLBASE_TEST_POSTGRES_URL:-} ]] && _cbpg_ready -d "$CALLBASE_TEST_POSTGRES_URL"; then
    echo "== postgres: using preset CALLBASE_TEST_POSTGRES_URL=$CALLBASE_TEST_POSTGRES_URL"
  elif _cbpg_ready -h 127.0.0.1 -p 5432; then
    export CALLBASE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres
    echo "== postgres: using machine server $CALLBASE_TEST_POSTGRES_URL"
  else
    return 1
  fi
}

_cbpg_as_postgres() {
  # initdb and postgres refuse to run as root; cd / keeps them from
  # tripping over a cwd (e.g. /root) the postgres user cannot read.
  if [[ $(id -u) == 0 ]]; then
    (cd / && runuser -u postgres -- "$@")
  else
    (cd / && "$@")
  fi
}

_cbpg_cleanup() {
  # Runs inside the EXIT trap, possibly under `set -e`: nothing here may fail,
  # or the CI script's exit status would be replaced.
  local d
  for d in ${_CBPG_DIRS:-}; do
    _cbpg_as_postgres "$_CBPG_BIN/pg_ctl" -D "$d" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$d" || true
  done
}

_cbpg_start_private() {
  local port prev out
  _CBPG_BIN=$(_cbpg_bindir) || _cbpg_die "no initdb/pg_ctl under /usr/lib/postgresql/*/bin"
  # Register cleanup before anything can leave a half-started server behind;
  # only once, since chaining our own trap would make it recurse.
  if [[ -z ${_CBPG_PREV_EXIT_TRAP+set} ]]; then
    prev=$(trap -p EXIT)
    eval "set -- $prev"
    _CBPG_PREV_EXIT_TRAP=${3:-}
    trap '_cbpg_cleanup; eval "$_CBPG_PREV_EXIT_TRAP"' EXIT
  fi
  # Fixed /tmp rather than $TMPDIR: the postgres user must be able to reach it,
  # and the Unix socket path inside it must stay under ~100 bytes.
  _CBPG_DIR=$(mktemp -d /tmp/callbase-pg.XXXXXX) || _cbpg_die "mktemp failed"
  _CBPG_DIRS="${_CBPG_DIRS:-} $_CBPG_DIR"
  if [[ $(id -u) == 0 ]]; then chown postgres: "$_CBPG_DIR" || _cbpg_die "chown $_CBPG_DIR failed"; fi
  # Explicit encoding/locale so results do not depend on the CI host's LANG.
  out=$(_cbpg_as_postgres "$_CBPG_BIN/initdb" -D "$_CBPG_DIR" -U postgres -A trust \
    --no-sync -E UTF8 --locale=C 2>&1) || { echo "$out" >&2; _cbpg_die "initdb failed"; }
  # Another job may grab a port between our probe and the bind, so try a few.
  for port in $(seq 54320 54339); do
    (: </dev/tcp/127.0.0.1/"$port") 2>/dev/null && continue  # something listens
    if _cbpg_as_postgres "$_CBPG_BIN/pg_ctl" -D "$_CBPG_DIR" -w -l "$_CBPG_DIR/log" \
      -o "-p $port -k $_CBPG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" \
      start >/dev/null; then
      export CALLBASE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$port/postgres
      _cbpg_ready -d "$CALLBASE_TEST_POSTGRES_URL" || break
      echo "== postgres: using private server $CALLBASE_TEST_POSTGRES_URL (data in $_CBPG_DIR)"
      return 0
    fi
  done
  tail -n 20 "$_CBPG_DIR/log" >&2 2>/dev/null || true
  _cbpg_die "private server did not start (log above)"
}

if ! _cbpg_use_existing; then
  if ! _cbpg_bindir >/dev/null; then
    echo "== postgres: no server binaries, installing Debian's postgresql package"
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
      --no-install-recommends postgresql; } || _cbpg_die "apt-get install postgresql failed"
  fi
  # Debian's package may have created and started a cluster on 5432.
  _cbpg_use_existing || _cbpg_start_private
fi
