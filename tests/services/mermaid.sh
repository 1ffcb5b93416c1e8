#!/usr/bin/env bash
# The official Mermaid CLI (`mmdc`, npm package @mermaid-js/mermaid-cli) for
# pipec's tests: `pipec graph --format mermaid` output is meant to be pasted
# into Markdown on GitHub, and GitHub renders it with the Mermaid JavaScript
# library in a browser. Snapshot tests only pin the text; this script lets a
# test check that the text really parses and renders with Mermaid itself
# (quoting, `<br/>`, `#quot;` escapes, node shapes, edge labels), in headless
# Chromium, as GitHub does.
#
# Why this shape: machines are handed out fresh and only package registries
# are reachable, so mmdc is installed from the npm registry, once, into a
# cache outside the repo. Versions are pinned exactly so results do not drift.
# Puppeteer (which mmdc drives the browser with) would normally download its
# own Chrome on install; we forbid that and point it at Debian's chromium
# (`apt-get install chromium`) through a puppeteer config file written into
# the cache dir. CI runs as root, where Chromium refuses to start without
# --no-sandbox.
#
# Usage: mermaid.sh fetch|check FILE...|path
#   fetch        install mmdc into the cache unless it is there (log lines on
#                stderr only). Idempotent: a no-op when installed.
#   check FILE.. render each Mermaid file (`-` reads stdin) to a throw-away
#                SVG. Prints "mermaid.sh: FILE renders (N bytes of SVG)" per
#                file; on the first file that fails to parse or render, prints
#                mmdc's error and exits 1. Installs first if needed.
#   path         print the path of the mmdc command (installs first if needed).
#
# Environment knobs:
#   PIPEC_CACHE            cache root (default $HOME/.cache/pipec); mmdc lives
#                          in $PIPEC_CACHE/mermaid-cli
#   PIPEC_CHROMIUM         browser binary (default /usr/bin/chromium)
#   PIPEC_MERMAID_TIMEOUT  seconds one render may take (default 90)
set -euo pipefail

# 11.17.0 is the newest mermaid-cli whose `engines` allows Node 20
# ("^18.19 || >=20.0"); 12.x wants Node >= 22.13. Since 11.15 puppeteer is a
# peer dependency, so we pin it too: npm would otherwise pick puppeteer 25,
# which wants Node >= 22.12. 24.43.1 is the newest puppeteer 24 (Node >= 18).
# mmdc asks for mermaid (the library that actually parses and draws) as
# "^11.14.0"; we pin it exactly as well (npm "overrides", so every copy in
# the tree is this one), the newest 11.x (12.x is outside mmdc 11's range).
MERMAID_CLI_VERSION=11.17.0
PUPPETEER_VERSION=24.43.1
MERMAID_VERSION=11.17.2

CACHE="${PIPEC_CACHE:-$HOME/.cache/pipec}"
DIR="$CACHE/mermaid-cli"
MMDC="$DIR/node_modules/.bin/mmdc"
STAMP="$DIR/.pipec-complete"
PUPPETEER_CONFIG="$DIR/puppeteer-config.json"
CHROMIUM="${PIPEC_CHROMIUM:-/usr/bin/chromium}"
TIMEOUT="${PIPEC_MERMAID_TIMEOUT:-90}"

log() { printf 'mermaid.sh: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# What the stamp records: changing a version above reinstalls on next use.
WANT="@mermaid-js/mermaid-cli@$MERMAID_CLI_VERSION puppeteer@$PUPPETEER_VERSION mermaid@$MERMAID_VERSION"

# Never let puppeteer fetch a browser (the current and the pre-v22 variable),
# whether at install time or at run time.
export PUPPETEER_SKIP_DOWNLOAD=1
export PUPPETEER_SKIP_CHROMIUM_DOWNLOAD=true

need_chromium() {
  [ -x "$CHROMIUM" ] && return 0
  die "no Chromium at $CHROMIUM: mmdc renders in a headless browser; install Debian's with
    apt-get install -y chromium
  (or point PIPEC_CHROMIUM at another Chrome/Chromium binary)"
}

# Rewritten whenever its content would change (e.g. another PIPEC_CHROMIUM);
# written to a temp file and renamed so a concurrent reader never sees half.
# --disable-dev-shm-usage: containers often have a small /dev/shm.
write_puppeteer_config() {
  local want tmp
  want="$(printf '{\n  "executablePath": "%s",\n  "args": ["--no-sandbox", "--disable-setuid-sandbox", "--disable-dev-shm-usage", "--disable-gpu"]\n}\n' "$CHROMIUM")"
  if [ -f "$PUPPETEER_CONFIG" ] && [ "$(cat "$PUPPETEER_CONFIG")" = "$want" ]; then
    return 0
  fi
  tmp="$(mktemp "$DIR/.puppeteer-config.XXXXXX")"
  printf '%s\n' "$want" >"$tmp"
  chmod 644 "$tmp"  # mktemp makes it 0600
  mv -f "$tmp" "$PUPPETEER_CONFIG"
}

is_installed() {
  [ -x "$MMDC" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]
}

# Renders $1 (a .mmd file) to $2 (an .svg); mmdc's messages go to stderr.
# -q: no progress chatter on success.
render() {
  timeout --kill-after=10 "$TIMEOUT" \
    "$MMDC" -q -p "$PUPPETEER_CONFIG" -e svg -i "$1" -o "$2"
}

install_mmdc() {
  local t0=$SECONDS smoke
  command -v node >/dev/null 2>&1 || die "node not found (Node.js >= 20 is needed for mmdc)"
  command -v npm >/dev/null 2>&1 || die "npm not found"
  log "installing $WANT into $DIR with node $(node --version) (once; no browser download)"
  # Start clean: a half-done or outdated install is cheaper to redo than to repair.
  rm -rf "$DIR/node_modules" "$DIR/package.json" "$DIR/package-lock.json" "$STAMP"
  mkdir -p "$DIR"
  cat >"$DIR/package.json" <<EOF
{
  "name": "pipec-mermaid-cli",
  "private": true,
  "description": "mmdc for pipec's tests; written by tests/services/mermaid.sh",
  "dependencies": {
    "@mermaid-js/mermaid-cli": "$MERMAID_CLI_VERSION",
    "puppeteer": "$PUPPETEER_VERSION",
    "mermaid": "$MERMAID_VERSION"
  },
  "overrides": {
    "mermaid": "$MERMAID_VERSION"
  }
}
EOF
  # --engine-strict: fail now, loudly, if anything in the tree wants a newer
  # Node than this machine has, instead of breaking at render time.
  if ! npm install --prefix "$DIR" --engine-strict --omit=dev \
         --no-audit --no-fund --loglevel=error >"$DIR/install.log" 2>&1; then
    tail -n 30 "$DIR/install.log" >&2
    die "npm install failed (full log: $DIR/install.log)"
  fi
  [ -x "$MMDC" ] || die "npm install finished but $MMDC is missing"
  write_puppeteer_config
  # Smoke run: it proves the browser starts too, before we call it installed.
  smoke="$(mktemp -d)"
  printf 'flowchart LR\n  a --> b\n' >"$smoke/smoke.mmd"
  if ! render "$smoke/smoke.mmd" "$smoke/smoke.svg" >&2 || [ ! -s "$smoke/smoke.svg" ]; then
    rm -rf "$smoke"
    die "mmdc is installed but could not render a trivial diagram with $CHROMIUM"
  fi
  rm -rf "$smoke"
  # Written last: its presence means the install is complete and works.
  printf '%s\n' "$WANT" >"$STAMP"
  log "mmdc $("$MMDC" --version 2>/dev/null || echo '?') ready in $((SECONDS - t0))s: $MMDC"
}

# Installs unless installed. Under a lock: two test runs starting at once on
# a cold machine must not both run npm into the same directory.
ensure_mmdc() {
  need_chromium
  if ! is_installed; then
    mkdir -p "$CACHE"
    exec 8>"$CACHE/mermaid-cli.lock"
    flock 8
    is_installed || install_mmdc
    flock -u 8
    exec 8>&-
  fi
  mkdir -p "$DIR"
  write_puppeteer_config
}

# mmdc's error as a person wants it: Mermaid's message (with its "line N"
# and caret), without the JavaScript stack frames of mmdc/puppeteer/mermaid
# that follow it. Everything, if the filter would leave nothing.
show_mmdc_error() {
  local msg
  msg="$(grep -Ev '^[[:space:]]+at |^[^[:space:]]+ \((https?|file)://[^)]*:[0-9]+:[0-9]+\)$' "$1" \
           | sed '/./,$!d')" || true
  if [ -n "$msg" ]; then printf '%s\n' "$msg" >&2; else cat "$1" >&2; fi
}

# Global, not local: the EXIT trap runs after cmd_check has returned.
CHECK_TMP=""

cmd_check() {
  [ "$#" -gt 0 ] || die "usage: mermaid.sh check FILE... (- for stdin)"
  ensure_mmdc
  local tmp file input label size
  CHECK_TMP="$(mktemp -d)"
  trap 'rm -rf "$CHECK_TMP"' EXIT
  tmp="$CHECK_TMP"
  for file in "$@"; do
    if [ "$file" = "-" ]; then
      input="$tmp/stdin.mmd"; label="<stdin>"
      cat >"$input"
    else
      [ -f "$file" ] || die "$file: no such file"
      input="$file"; label="$file"
    fi
    rm -f "$tmp/out.svg"
    if ! render "$input" "$tmp/out.svg" >"$tmp/mmdc.log" 2>&1; then
      log "$label does NOT render; mmdc says:"
      show_mmdc_error "$tmp/mmdc.log"
      exit 1
    fi
    # Belt and braces: an empty file, or Mermaid's "Syntax error" picture
    # instead of the diagram, is a failure too.
    if [ ! -s "$tmp/out.svg" ] || ! grep -q '<svg' "$tmp/out.svg"; then
      cat "$tmp/mmdc.log" >&2
      die "$label: mmdc succeeded but wrote no SVG"
    fi
    if grep -q 'aria-roledescription="error"' "$tmp/out.svg"; then
      cat "$tmp/mmdc.log" >&2
      die "$label: Mermaid rendered its syntax-error picture instead of the diagram"
    fi
    size="$(wc -c <"$tmp/out.svg" | tr -d ' ')"
    printf 'mermaid.sh: %s renders (%s bytes of SVG)\n' "$label" "$size"
  done
}

case "${1:-}" in
  fetch) ensure_mmdc ;;
  check) shift; cmd_check "$@" ;;
  path)  ensure_mmdc; echo "$MMDC" ;;
  *)     die "usage: mermaid.sh fetch|check FILE...|path" ;;
esac
