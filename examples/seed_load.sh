#!/usr/bin/env bash
# The seed's load generator: Apache Bench loops with random request counts per
# endpoint and host, a pause, repeat — pointed at a running `pipec run`.
#
#   examples/seed_load.sh [BASE_URL] [DURATION_SECONDS] [PAUSE_SECONDS]
#   examples/seed_load.sh http://127.0.0.1:5000 60
#
# Prints what it sent, per host and endpoint, so the counts can be compared
# with `select host, count(*) ... group by host` over the tables.
set -euo pipefail

url="${1:-http://127.0.0.1:5000}"
duration="${2:-60}"
pause="${3:-3}"
command -v ab >/dev/null || { echo "seed_load.sh needs ab: apt-get install apache2-utils" >&2; exit 2; }

declare -A sent=() failed=()

# One `ab` run; counts what was answered 2xx and what was not.
hit() {
  local host="$1" path="$2" count="$3" out complete non2xx failures
  out=$(ab -q -n "$count" -H "Host: $host" "$url$path" 2>&1) || true
  complete=$(sed -n 's/^Complete requests: *\([0-9]*\).*/\1/p' <<<"$out")
  failures=$(sed -n 's/^Failed requests: *\([0-9]*\).*/\1/p' <<<"$out")
  non2xx=$(sed -n 's/^Non-2xx responses: *\([0-9]*\).*/\1/p' <<<"$out")
  complete=${complete:-0} failures=${failures:-0} non2xx=${non2xx:-0}
  local key="$host $path"
  sent[$key]=$(( ${sent[$key]:-0} + complete - non2xx ))
  failed[$key]=$(( ${failed[$key]:-0} + count - complete + non2xx ))
}

end=$((SECONDS + duration))
while [ "$SECONDS" -lt "$end" ]; do
  hit user1.comcast.com / $((RANDOM % 25 + 6))
  hit user1.comcast.com /purchase_a_sword $((RANDOM % 25 + 6))
  hit user1.comcast.com /join_a_guild $((RANDOM % 25 + 6))
  hit user2.att.com / $((RANDOM % 50 + 1))
  hit user2.att.com /purchase_a_sword $((RANDOM % 50 + 1))
  hit user2.att.com /join_a_guild $((RANDOM % 50 + 1))
  [ "$SECONDS" -lt "$end" ] && sleep "$pause"
done

printf '%-20s %-18s %8s %8s\n' host endpoint ok failed
for key in $(printf '%s\n' "${!sent[@]}" | tr ' ' '|' | sort); do
  key=${key//|/ }
  printf '%-20s %-18s %8d %8d\n' ${key% *} ${key#* } "${sent[$key]}" "${failed[$key]}"
done
