#!/usr/bin/env bash
# Installs the command-line tools that pipec's integration tests drive, from
# Debian packages, only when they are missing.
#
# Why a script: machines are handed out fresh (CI included), so nothing
# installed by hand can be relied on; every test entry point calls this first.
# It is idempotent and cheap when everything is present: `apt-get update` runs
# only when something actually has to be installed.
#
# Tools (command -> Debian package), plus any given as arguments:
#   kcat -> kcat   Kafka CLI producer/consumer/metadata; also used by
#                  kafka.sh to tell that the broker answers.
#   ab -> apache2-utils   Apache Bench, the seed's load generator
#                  (examples/seed_load.sh).
#   chromium -> chromium   Headless browser: the status page test drives it,
#                  and the Mermaid CLI (mermaid.sh) renders with it.
#   nvim -> neovim   An editor whose built-in LSP client drives `pipec lsp`.
#
# We run as root on these machines; if not, sudo is used when available.
set -euo pipefail

# "command:package" pairs.
TOOLS=(
  "kcat:kcat"
  "ab:apache2-utils"
  "chromium:chromium"
  "nvim:neovim"
)
# Callers may ask for more, as "command:package" arguments (bench/run: wrk
# and GNU time, as /usr/bin/time:time).
TOOLS+=("$@")

log() { printf 'tools.sh: %s\n' "$*"; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    log "not root and no sudo: cannot install packages" >&2
  fi
fi

missing=()
for pair in "${TOOLS[@]}"; do
  cmd="${pair%%:*}"; pkg="${pair#*:}"
  if command -v "$cmd" >/dev/null 2>&1; then
    log "$cmd already present ($(command -v "$cmd"))"
  else
    missing+=("$pkg")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  log "nothing to install"
  exit 0
fi

log "installing: ${missing[*]}"
# Non-interactive: CI has no stdin and must never block on a prompt.
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# Verify that the commands really appeared; fail loudly otherwise.
for pair in "${TOOLS[@]}"; do
  cmd="${pair%%:*}"
  if ! command -v "$cmd" >/dev/null 2>&1; then
    log "ERROR: $cmd still missing after install" >&2
    exit 1
  fi
  log "$cmd ready ($(command -v "$cmd"))"
done
