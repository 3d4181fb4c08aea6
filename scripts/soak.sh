#!/usr/bin/env bash
# Soak the fault-tolerance suite: run its randomized test over fresh seeds, again and again,
# for a bounded time; print every seed; stop at the first failure with the command that
# replays it. Opt-in (not part of `npm test`).
#
#   scripts/soak.sh                      # 5 minutes of fresh seeds
#   SOAK_SECONDS=3600 scripts/soak.sh    # an hour
#   SOAK_SEEDS="12 34" scripts/soak.sh   # exactly these base seeds, then stop
#
# Environment:
#   SOAK_SECONDS     time budget; no new iteration starts after it (default 300)
#   SOAK_ITERATIONS  at most this many iterations (default: no limit)
#   SOAK_SEEDS       space-separated base seeds to run instead of fresh ones
#   SOAK_RUNS        seeded job runs per iteration (WEIR_FT_RUNS, default 40; the disk suite
#                    reads WEIR_FT_DISK_RUNS instead, default 12)
#   SOAK_TESTS       test files to run (default the randomized suite; e.g. test/it/fault-tolerance/)
set -euo pipefail

cd "$(dirname "$0")/.."

seconds="${SOAK_SECONDS:-300}"
max_iterations="${SOAK_ITERATIONS:-0}"
runs="${SOAK_RUNS:-40}"
tests="${SOAK_TESTS:-test/it/fault-tolerance/randomized.test.ts}"
read -r -a fixed_seeds <<< "${SOAK_SEEDS:-}"

fresh_seed() {
  # 31 bits from the OS, so seeds are independent of the shell's RANDOM state.
  echo $(( $(od -An -N4 -tu4 /dev/urandom | tr -d ' ') % 2147483648 ))
}

log="$(mktemp -t weir-soak.XXXXXX)"
trap 'rm -f "$log"' EXIT
deadline=$(( $(date +%s) + seconds ))
iteration=0
echo "soak: ${tests}, ${runs} runs per seed, for ${seconds} s (started $(date -u +%FT%TZ))"

while :; do
  if (( ${#fixed_seeds[@]} > 0 )); then
    (( iteration < ${#fixed_seeds[@]} )) || break
    seed="${fixed_seeds[$iteration]}"
  else
    (( $(date +%s) < deadline )) || break
    (( max_iterations == 0 || iteration < max_iterations )) || break
    seed="$(fresh_seed)"
  fi
  iteration=$(( iteration + 1 ))
  started=$(date +%s)
  printf 'soak: iteration %d, WEIR_FT_SEED=%s ... ' "$iteration" "$seed"
  if WEIR_FT_SEED="$seed" WEIR_FT_RUNS="$runs" npx vitest run $tests >"$log" 2>&1; then
    summary="$(grep -ao 'injected failures in [0-9]* runs' "$log" | head -1 || true)"
    total="$(grep -aoE '[0-9]+ injected failures' "$log" | head -1 || true)"
    echo "ok in $(( $(date +%s) - started )) s (${total:-?} ${summary#injected failures })"
  else
    echo "FAILED"
    cat "$log"
    echo
    echo "soak: failed at iteration ${iteration}; replay with:"
    echo "  WEIR_FT_SEED=${seed} WEIR_FT_RUNS=${runs} npx vitest run ${tests}"
    exit 1
  fi
done

echo "soak: ${iteration} iterations passed"
