#!/usr/bin/env bash
# End-to-end client matrix: real psql (libpq), pgjdbc, psqlODBC (unixODBC isql) and pgbench through
# a running rsproxy stack (throwaway PostgreSQL + AWS emulator + proxy, from start-stack.js).
# Prints one PASS/FAIL line per check (SKIP lines for what these clients cannot show) and ends with
# exactly "N passed, M failed"; exits 1 when M > 0. With CI=true a missing client is a FAIL.
# Needs `npm run build` first (dist/test/e2e/start-stack.js). Tokens go through PGPASSWORD, a 0600
# .pgpass file or psql's stdin; only the ODBC checks put one on argv (isql -k has no other way, and
# psqlODBC truncates DSN-file passwords; see the ODBC section).
set -u
cd "$(dirname "$0")/../.." || exit 2

passed=0
failed=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1${2:+ -- $2}"; failed=$((failed + 1)); }
skip() { echo "SKIP $1 -- $2"; }
summary() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
oneline() { tr '\n' ' ' | cut -c1-300; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rsproxy-e2e-XXXXXX")
chmod 700 "$tmp"
stack_pid=""
cleanup() {
  exec 3>&- 2>/dev/null
  if [ -n "$stack_pid" ]; then
    for _ in $(seq 1 50); do kill -0 "$stack_pid" 2>/dev/null || break; sleep 0.1; done
    kill "$stack_pid" 2>/dev/null
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# have NAME BINARY: true if BINARY exists; otherwise SKIP (locally) or FAIL (CI=true) for NAME.
have() {
  if [ -e "$2" ] || command -v "$2" >/dev/null 2>&1; then return 0; fi
  if [ "${CI:-}" = "true" ]; then fail "$1" "$2 not installed (CI=true)"; else skip "$1" "$2 not installed"; fi
  return 1
}

# ---------------------------------------------------------------- stack
if ! have "stack: node" node; then summary; exit $?; fi
if [ ! -f dist/test/e2e/start-stack.js ]; then
  fail "stack: dist/test/e2e/start-stack.js exists" "run npm run build first"
  summary; exit $?
fi
mkfifo "$tmp/stack.in"
env -u NODE_TEST_CONTEXT node dist/test/e2e/start-stack.js --serve <"$tmp/stack.in" >"$tmp/stack.json" 2>"$tmp/stack.err" &
stack_pid=$!
exec 3>"$tmp/stack.in"
for _ in $(seq 1 600); do
  [ -s "$tmp/stack.json" ] && break
  kill -0 "$stack_pid" 2>/dev/null || break
  sleep 0.1
done
if [ ! -s "$tmp/stack.json" ]; then
  fail "stack: started" "$(tail -c 1500 "$tmp/stack.err" | oneline)"
  summary; exit $?
fi
# One `key=value` per line; every value is a number, a path, a hex password or a token ([A-Za-z0-9._-]).
while IFS='=' read -r key value; do
  printf -v "S_$key" '%s' "$value"
done < <(node -e '
  const j = JSON.parse(require("fs").readFileSync(0, "utf8"));
  for (const [k, v] of Object.entries(j)) if (/^\w+$/.test(k) && /^[\w.:\/-]*$/.test(String(v))) console.log(`${k}=${v}`);
' <"$tmp/stack.json")
if [ -z "${S_proxyPort:-}" ] || [ -z "${S_token:-}" ]; then
  fail "stack: start-stack.js printed its JSON" "$(head -c 300 "$tmp/stack.json" | oneline)"
  summary; exit $?
fi
pass "stack: PostgreSQL + emulator + rsproxy up (proxy 127.0.0.1:$S_proxyPort)"

# Every libpq setting comes from here; nothing from the caller's environment.
unset PGSERVICE PGSERVICEFILE PGSSLMODE PGSSLROOTCERT PGCHANNELBINDING PGREQUIREAUTH PGOPTIONS PGAPPNAME
export PGCONNECT_TIMEOUT=10 PGPASSFILE="$tmp/none.pgpass"
proxy_conn="host=127.0.0.1 port=$S_proxyPort user=$S_user dbname=$S_database"
direct_conn="host=127.0.0.1 port=$S_pgPort user=$S_pgUser dbname=$S_pgDatabase sslmode=require"
# psql_proxy TOKEN CONNINFO-EXTRA [psql args…]
psql_proxy() {
  local token=$1 extra=$2
  shift 2
  PGPASSWORD="$token" psql -X -A -t -q -v ON_ERROR_STOP=1 "$proxy_conn $extra" "$@" 2>&1
}
psql_direct() { PGPASSWORD="$S_pgPassword" psql -X -A -t -q -v ON_ERROR_STOP=1 "$direct_conn" "$@" 2>&1; }
metric_sum() { # sum of every sample of a metric family on the admin port
  curl -s --max-time 5 "http://127.0.0.1:$S_adminPort/metrics" 2>/dev/null |
    awk -v m="$1" '$1 == m || index($1, m "{") == 1 { s += $NF } END { printf "%d\n", s + 0 }'
}

# ---------------------------------------------------------------- psql (libpq)
if have "psql" psql; then
  out=$(psql_proxy "$S_token" "sslmode=require" -c 'SELECT 1')
  [ "$out" = "1" ] && pass "psql sslmode=require: SELECT 1" || fail "psql sslmode=require: SELECT 1" "$(echo "$out" | oneline)"

  out=$(psql_proxy "$S_token" "sslmode=prefer" -c 'SELECT 1')
  [ "$out" = "1" ] && pass "psql sslmode=prefer (libpq default, wire §14.1)" || fail "psql sslmode=prefer (libpq default, wire §14.1)" "$(echo "$out" | oneline)"

  out=$(PGPASSWORD="$S_token" psql -X -A -t -q "host=localhost port=$S_proxyPort user=$S_user dbname=$S_database sslmode=verify-full sslrootcert=$S_caFile" -c 'SELECT 1' 2>&1)
  [ "$out" = "1" ] && pass "psql sslmode=verify-full sslrootcert=CA host=localhost" || fail "psql sslmode=verify-full sslrootcert=CA host=localhost" "$(echo "$out" | oneline)"

  out=$(psql_proxy "$S_token" "sslmode=disable" -c 'SELECT 1')
  case "$out" in
    *"SSL connection is required"*) pass "psql sslmode=disable: FATAL 28000 \"SSL connection is required\"" ;;
    *) fail "psql sslmode=disable: FATAL 28000 \"SSL connection is required\"" "$(echo "$out" | oneline)" ;;
  esac

  # libpq 'allow' tries plaintext first, gets 28000, then retries with TLS (wire §14.5).
  out=$(psql_proxy "$S_token" "sslmode=allow" -c 'SELECT 1')
  [ "$out" = "1" ] && pass "psql sslmode=allow: plaintext refused, libpq retries with TLS (wire §14.5)" || fail "psql sslmode=allow (wire §14.5)" "$(echo "$out" | oneline)"

  out=$(psql_proxy "$S_badToken" "sslmode=require" -c 'SELECT 1')
  case "$out" in
    *"IAM authentication failed for user \"$S_user\""*) pass "psql bad token: FATAL 28P01 \"IAM authentication failed\"" ;;
    *) fail "psql bad token: FATAL 28P01 \"IAM authentication failed\"" "$(echo "$out" | oneline)" ;;
  esac

  out=$(psql_proxy "$S_token" "sslmode=require user=mallory" -c 'SELECT 1')
  case "$out" in
    *'IAM authentication failed for user "mallory"'*) pass "psql user not allowed by any rule: 28P01" ;;
    *) fail "psql user not allowed by any rule: 28P01" "$(echo "$out" | oneline)" ;;
  esac

  via=$(psql_proxy "$S_token" "sslmode=require" -c '\echo :SERVER_VERSION_NAME')
  direct=$(psql_direct -c '\echo :SERVER_VERSION_NAME')
  if [ -n "$via" ] && [ "$via" = "$direct" ]; then pass "psql ParameterStatus server_version relayed ($via)"
  else fail "psql ParameterStatus server_version relayed" "proxy='$via' direct='$direct'"; fi

  via=$(psql_proxy "$S_token" "sslmode=require" -c 'SHOW server_version')
  direct=$(psql_direct -c 'SHOW server_version')
  [ -n "$via" ] && [ "$via" = "$direct" ] && pass "psql SHOW server_version matches direct" || fail "psql SHOW server_version matches direct" "proxy='$via' direct='$direct'"

  out=$(psql_proxy "$S_token" "sslmode=require application_name=rsproxy-e2e" -c 'SHOW application_name')
  [ "$out" = "rsproxy-e2e" ] && pass "psql application_name forwarded upstream (wire §9)" || fail "psql application_name forwarded upstream (wire §9)" "$(echo "$out" | oneline)"

  out=$(psql_proxy "$S_token" "sslmode=require" -c 'SELECT current_user')
  [ "$out" = "IAMA:$S_user" ] && pass "psql upstream user is the minted IAMA:$S_user" || fail "psql upstream user is the minted IAMA:$S_user" "$(echo "$out" | oneline)"

  # Same token, many connections (wire §14.18): psql \c reconnects with the same password.
  out=$(psql_proxy "$S_token" "sslmode=require" -c 'SELECT 1' -c '\c' -c 'SELECT 2')
  [ "$(echo "$out" | tr '\n' ' ')" = "1 2 " ] && pass "psql \\c reconnect with the same token (wire §14.18)" || fail "psql \\c reconnect with the same token (wire §14.18)" "$(echo "$out" | oneline)"

  # Long token (~3 KB with a session token) three ways (wire §14.13/14).
  out=$(psql_proxy "$S_longToken" "sslmode=require" -c 'SELECT 1')
  [ "$out" = "1" ] && pass "psql ${#S_longToken}-byte token via PGPASSWORD" || fail "psql ${#S_longToken}-byte token via PGPASSWORD" "$(echo "$out" | oneline)"

  printf '127.0.0.1:%s:%s:%s:%s\n' "$S_proxyPort" "$S_database" "$S_user" "$S_longToken" >"$tmp/pgpass"
  chmod 600 "$tmp/pgpass"
  out=$(PGPASSFILE="$tmp/pgpass" psql -X -A -t -q "$proxy_conn sslmode=require" -c 'SELECT 1' 2>&1)
  [ "$out" = "1" ] && pass "psql ${#S_longToken}-byte token via .pgpass" || fail "psql ${#S_longToken}-byte token via .pgpass" "$(echo "$out" | oneline)"

  # The URI goes through psql's stdin (\c), so the token never reaches argv; it is not percent-encoded.
  out=$(printf '\\c postgresql://%s:%s@127.0.0.1:%s/%s?sslmode=require\nSELECT 3;\n' "$S_user" "$S_longToken" "$S_proxyPort" "$S_database" |
    PGPASSWORD="$S_token" psql -X -A -t -q "$proxy_conn sslmode=require" 2>&1)
  [ "$(echo "$out" | tail -n 1)" = "3" ] && pass "psql long token unescaped in a postgresql:// URI (wire §14.14)" || fail "psql long token unescaped in a postgresql:// URI (wire §14.14)" "$(echo "$out" | oneline)"

  # Plaintext CancelRequest (libpq 15 PQcancel never uses TLS) reaches the upstream session (wire §14.10).
  start=$(date +%s)
  out=$(PGPASSWORD="$S_token" timeout -s INT 2 psql -X -A -t -v VERBOSITY=verbose "$proxy_conn sslmode=require" -c 'SELECT pg_sleep(10)' 2>&1)
  elapsed=$(($(date +%s) - start))
  case "$out" in
    *57014*"canceling statement due to user request"*)
      [ "$elapsed" -lt 8 ] && pass "psql Ctrl-C: plaintext CancelRequest cancels upstream (57014, ${elapsed}s)" || fail "psql Ctrl-C cancel" "took ${elapsed}s" ;;
    *) fail "psql Ctrl-C: plaintext CancelRequest cancels upstream (57014)" "$(echo "$out" | oneline)" ;;
  esac

  # Documented incompatibility (wire §14.15): libpq refuses cleartext auth when channel binding is required.
  out=$(psql_proxy "$S_token" "sslmode=require channel_binding=require" -c 'SELECT 1')
  case "$out" in
    *"channel binding"*) pass "psql channel_binding=require refused by libpq, as documented (wire §14.15)" ;;
    *) fail "psql channel_binding=require refused by libpq (wire §14.15)" "$(echo "$out" | oneline)" ;;
  esac

  if have "metrics: curl" curl; then
    before=$(metric_sum rsproxy_sts_requests_total)
    for _ in 1 2 3; do psql_proxy "$S_token" "sslmode=require" -c 'SELECT 1' >/dev/null; done
    after=$(metric_sum rsproxy_sts_requests_total)
    [ "$before" -gt 0 ] && [ "$after" -eq "$before" ] && pass "same token, 3 more logins, no new STS call (token cache, wire §14.18; $after total)" ||
      fail "same token, 3 more logins, no new STS call (wire §14.18)" "rsproxy_sts_requests_total before=$before after=$after"
  fi
fi
skip "GSSENCRequest from libpq (wire §14.2)" "libpq only sends it with a Kerberos credential cache; none here (pgjdbc gssEncMode=prefer is checked below)"
skip "direct TLS / ALPN (wire §14.16)" "needs libpq >= 17 sslnegotiation=direct; this psql is $(psql --version 2>/dev/null | awk '{print $3}')"
skip "protocol 3.2 / grease negotiation (wire §14.17)" "needs libpq >= 18; covered by byte-level tests"

# ---------------------------------------------------------------- pgbench
if have "pgbench" pgbench; then
  out=$(PGPASSWORD="$S_pgPassword" pgbench -i -s 1 -q "$direct_conn" 2>&1)
  if [ $? -ne 0 ]; then
    fail "pgbench -i (direct)" "$(echo "$out" | tail -n 3 | oneline)"
  else
    out=$(PGPASSWORD="$S_token" pgbench -n -S -T 2 -c 2 -j 2 "$proxy_conn sslmode=require" 2>&1)
    tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -n 1)
    failures=$(echo "$out" | sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p')
    if [ -n "$tps" ] && [ "${failures:-0}" = "0" ] && awk -v t="$tps" 'BEGIN { exit !(t > 0) }'; then
      pass "pgbench -S -T 2 -c 2 through the proxy ($tps tps)"
    else
      fail "pgbench -S -T 2 -c 2 through the proxy" "$(echo "$out" | tail -n 5 | oneline)"
    fi
  fi
fi

# ---------------------------------------------------------------- pgjdbc
jar=/usr/share/java/postgresql.jar
if have "pgjdbc: java" java && have "pgjdbc: $jar" "$jar"; then
  url="jdbc:postgresql://127.0.0.1:$S_proxyPort/$S_database"
  # One JVM runs every case (each JVM start + source compile costs seconds); tokens via env only.
  out=$(E2E_TOKEN="$S_token" E2E_LONG_TOKEN="$S_longToken" E2E_BAD_TOKEN="$S_badToken" java -cp "$jar" test/e2e/JdbcE2E.java \
    "pgjdbc sslmode=require: SELECT 1 + server-side prepared statement|$url?sslmode=require|$S_user|E2E_TOKEN|ok" \
    "pgjdbc verify-full + gssEncMode=prefer + ${#S_longToken}-byte token (wire §14.3/13)|jdbc:postgresql://localhost:$S_proxyPort/$S_database?sslmode=verify-full&sslrootcert=$S_caFile&gssEncMode=prefer|$S_user|E2E_LONG_TOKEN|ok" \
    "pgjdbc bad token: SQLSTATE 28P01|$url?sslmode=require|$S_user|E2E_BAD_TOKEN|28P01" \
    "pgjdbc sslmode=disable: SQLSTATE 28000|$url?sslmode=disable|$S_user|E2E_TOKEN|28000" 2>&1)
  seen=0
  while IFS= read -r line; do
    case "$line" in
      "JDBC PASS "*) seen=$((seen + 1)); pass "${line#JDBC PASS }" ;;
      "JDBC FAIL "*) seen=$((seen + 1)); fail "${line#JDBC FAIL }" ;;
    esac
  done <<<"$out"
  [ "$seen" -eq 4 ] || fail "pgjdbc: all 4 cases ran" "$(echo "$out" | tail -n 5 | oneline)"
  case "$out" in
    *"JDBC PASS pgjdbc sslmode=require"*"current_user=IAMA:$S_user"*) pass "pgjdbc upstream user is IAMA:$S_user" ;;
    *) fail "pgjdbc upstream user is IAMA:$S_user" "$(echo "$out" | head -n 1 | oneline)" ;;
  esac
fi

# ---------------------------------------------------------------- psqlODBC (unixODBC isql)
odbc_driver=/usr/lib/x86_64-linux-gnu/odbc/psqlodbcw.so
if have "psqlODBC: isql" isql && have "psqlODBC: driver" "$odbc_driver"; then
  : >"$tmp/odbcinst.ini"
  # psqlODBC truncates a DSN-file Password well below 1,000 bytes, so the token must be in the
  # connection string; isql -k takes that only from argv.
  isql_run() { # isql_run TOKEN SSLMODE
    echo 'SELECT 1' | ODBCSYSINI="$tmp" ODBCINI="$tmp/odbc.ini" isql -b -v \
      -k "Driver=$odbc_driver;Servername=127.0.0.1;Port=$S_proxyPort;Database=$S_database;Uid=$S_user;Pwd=$1;SSLmode=$2" 2>&1
  }
  out=$(isql_run "$S_token" require)
  if [ $? -eq 0 ] && echo "$out" | grep -Eq '^\| 1 +\|'; then pass "psqlODBC SSLmode=require: SELECT 1 (initial SET/SHOW queries relayed, wire §14.12)"
  else fail "psqlODBC SSLmode=require: SELECT 1" "$(echo "$out" | oneline)"; fi
  out=$(isql_run "$S_longToken" require)
  if [ $? -eq 0 ] && echo "$out" | grep -Eq '^\| 1 +\|'; then pass "psqlODBC ${#S_longToken}-byte token in the connection string (wire §14.13)"
  else fail "psqlODBC long token" "$(echo "$out" | oneline)"; fi
  out=$(isql_run "$S_token" disable)
  case "$out" in
    *"SSL connection is required"*) pass "psqlODBC SSLmode=disable: readable 28000 \"SSL connection is required\" (wire §14.6)" ;;
    *) fail "psqlODBC SSLmode=disable: readable 28000 (wire §14.6)" "$(echo "$out" | oneline)" ;;
  esac
  out=$(isql_run "$S_badToken" require)
  case "$out" in
    *"IAM authentication failed"*) pass "psqlODBC bad token: 28P01 \"IAM authentication failed\"" ;;
    *) fail "psqlODBC bad token: 28P01" "$(echo "$out" | oneline)" ;;
  esac
fi

# ---------------------------------------------------------------- teardown checks
if command -v curl >/dev/null 2>&1; then
  conns=""
  for _ in $(seq 1 30); do
    conns=$(metric_sum rsproxy_client_connections)
    [ "$conns" = "0" ] && break
    sleep 0.1
  done
  [ "$conns" = "0" ] && pass "every client gone: rsproxy_client_connections back to 0 (wire §14.20)" || fail "rsproxy_client_connections back to 0 (wire §14.20)" "got '$conns'"
fi

summary
