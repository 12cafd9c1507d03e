#!/usr/bin/env bash
# What bounds disk on PostgreSQL under sustained appends (issue 26): runs provenance-load
# against a scratch database on a throwaway cluster (made here with initdb as an unprivileged
# user, stopped and removed on exit) and samples, every 5 s, the size of pg_wal, the database's
# size, and the dead and live tuples autovacuum sees in the tables the append path updates.
#
#   cargo build --release -p provenance-server --bin provenance -p provenance-e2e --bin provenance-load
#   scripts/pg-disk.sh 150s 16000 80     # duration, items, records per item
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-60s}
items=${2:-8000}
per_item=${3:-80}

pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
test -n "$pg_bin" && test -x "$pg_bin/initdb" || { echo "error: no PostgreSQL (apt-get install postgresql)" >&2; exit 1; }
if [ "$(id -u)" = 0 ]; then
  id -u pgtest >/dev/null 2>&1 || useradd --system pgtest
  as_pg() { su -s /bin/sh pgtest -c "$1"; }
  pg_user=pgtest
else
  as_pg() { sh -c "$1"; }
  pg_user=$(id -un)
fi
pg_dir=$(mktemp -d)
chmod 755 "$pg_dir"
if [ "$(id -u)" = 0 ]; then chown pgtest "$pg_dir"; fi
port=56432
while (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
as_pg "$pg_bin/initdb -D $pg_dir/data -A trust -U $pg_user >$pg_dir/initdb.log 2>&1"
cleanup() { as_pg "$pg_bin/pg_ctl -D $pg_dir/data -m fast stop" >/dev/null 2>&1 || true; rm -rf "$pg_dir"; }
trap cleanup EXIT
as_pg "$pg_bin/pg_ctl -D $pg_dir/data -l $pg_dir/log -w -o '-p $port -k $pg_dir -c listen_addresses=127.0.0.1' start" >/dev/null
url="postgres://$pg_user@127.0.0.1:$port/postgres"
sql() { "$pg_bin/psql" -X -q -t -A -h 127.0.0.1 -p "$port" -U "$pg_user" postgres -c "$1"; }

echo "settings: $(sql "SELECT string_agg(name || '=' || setting || coalesce(unit, ''), ', ' ORDER BY name) FROM pg_settings WHERE name IN ('max_wal_size','min_wal_size','checkpoint_timeout','wal_keep_size','max_slot_wal_keep_size','autovacuum','autovacuum_naptime','autovacuum_vacuum_scale_factor','autovacuum_vacuum_insert_threshold','fillfactor')")"
target/release/provenance-load --db "$url" --items "$items" --records-per-item "$per_item" \
  --duration "$duration" --no-limits >"$pg_dir/load.log" 2>&1 &
load=$!
printf '%6s %10s %10s %12s %12s %12s %10s\n' secs pg_wal_MB db_MB items_dead items_live log_state_dd autovacs
start=$(date +%s)
max_wal=0
while kill -0 "$load" 2>/dev/null; do
  wal=$(du -sb "$pg_dir/data/pg_wal" | cut -f1)
  [ "$wal" -gt "$max_wal" ] && max_wal=$wal
  row=$(sql "SELECT pg_database_size('postgres'),
      coalesce((SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname='items'),0),
      coalesce((SELECT n_live_tup FROM pg_stat_user_tables WHERE relname='items'),0),
      coalesce((SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname='log_state'),0),
      coalesce((SELECT sum(autovacuum_count + autoanalyze_count) FROM pg_stat_user_tables),0)" 2>/dev/null || echo "0|0|0|0|0")
  IFS='|' read -r db dead live state_dead autovacs <<<"$row"
  printf '%6d %10.1f %10.1f %12s %12s %12s %10s\n' $(( $(date +%s) - start )) \
    "$(echo "$wal / 1048576" | bc -l)" "$(echo "$db / 1048576" | bc -l)" "$dead" "$live" "$state_dead" "$autovacs"
  sleep 5
done
wait "$load" || { cat "$pg_dir/load.log" >&2; echo "error: provenance-load failed" >&2; exit 1; }
grep -E "^(appends|SQLite|latency)" "$pg_dir/load.log" || true
records=$(sql "SELECT count(*) FROM records")
db=$(sql "SELECT pg_database_size('postgres')")
bytes=$(sql "SELECT sum(octet_length(bytes)) FROM records")
echo "largest pg_wal: $(echo "$max_wal / 1048576" | bc -l | xargs printf '%.1f') MiB; database $(echo "$db / 1048576" | bc -l | xargs printf '%.1f') MiB for $records records = $((db / records)) bytes per record ($((bytes / records)) of them the record itself)"
echo "tables: $(sql "SELECT string_agg(relname || ' ' || pg_size_pretty(pg_total_relation_size(relid)) || ' (' || n_dead_tup || ' dead, ' || autovacuum_count || ' autovacuums)', '; ' ORDER BY pg_total_relation_size(relid) DESC) FROM pg_stat_user_tables")"
