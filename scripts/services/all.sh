#!/usr/bin/env bash
# Start, stop or show every external service the tests use (Kafka, PostgreSQL).
#
#   scripts/services/all.sh {start|stop|status|env}
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cmd="${1:-}"
case "$cmd" in
start | stop | env) for s in kafka postgres; do "$here/$s.sh" "$cmd"; done ;;
status)
  rc=0
  for s in kafka postgres; do "$here/$s.sh" status || rc=1; done
  exit "$rc"
  ;;
*)
  echo "usage: $0 {start|stop|status|env}" >&2
  exit 2
  ;;
esac
