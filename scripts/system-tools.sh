#!/usr/bin/env bash
# Install the system tools the test suite needs, only those that are missing (Debian/Ubuntu
# apt-get), saying in one line what it installs. Called by scripts/test.sh (so the README's
# test command passes alone on a fresh machine) and by .ci/run through it. A no-op, and
# silent, when everything is there. HEYGEM_SYSTEM_TOOLS=skip turns it off.
#
# What needs what:
#   chromium, fonts-noto-cjk, fonts-noto-color-emoji  browser tests and their screenshots
#   libarchive-tools (bsdtar), unzip                  checks of the exported ZIPs
#   curl, jq                                          the README's API walk-through
#   gettext (xgettext, msgfmt)                        the translation catalog check
#   espeak-ng, sox                                    test speech for the transcript tests
set -uo pipefail

if [ "${HEYGEM_SYSTEM_TOOLS:-}" = "skip" ]; then
  exit 0
fi

has() { command -v "$1" >/dev/null 2>&1; }
# grep reads all of fc-list's output (no -q): with pipefail, a grep that stops at the first
# match can kill fc-list with SIGPIPE and turn a font that is there into a missing one.
has_font() { has fc-list && fc-list 2>/dev/null | grep -i "$1" >/dev/null; }

missing=()
why=()
# need PACKAGE WHY: the package to install, and which tests want it (for the one line below).
need() {
  missing+=("$1")
  why+=("$1 ($2)")
}
has chromium || has chromium-browser || need chromium "browser tests"
has_font "Noto Sans CJK" || need fonts-noto-cjk "Chinese pages in the browser tests"
has_font "Noto Color Emoji" || need fonts-noto-color-emoji "emoji in the browser tests"
has bsdtar || need libarchive-tools "ZIP export checks"
has unzip || need unzip "ZIP export checks"
has curl || need curl "API walk-through"
has jq || need jq "API walk-through"
{ has xgettext && has msgfmt; } || need gettext "catalog check"
has espeak-ng || need espeak-ng "test speech"
has sox || need sox "test speech"

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

echo "==> installing system tools for the tests: ${why[*]}"
if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif has sudo && sudo -n true 2>/dev/null; then
  sudo=(sudo -n)
else
  echo "!! not root and no password-less sudo: install them yourself" \
    "(apt-get install ${missing[*]}); the tests that need them will fail and name them" >&2
  exit 0
fi
if ! has apt-get; then
  echo "!! no apt-get on this machine: install ${missing[*]} with its package manager;" \
    "the tests that need them will fail and name them" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
# The package lists may be stale or absent on a fresh machine: update only when the first
# try fails, as it costs a download.
if ! "${sudo[@]}" apt-get install -y -q "${missing[@]}" >/dev/null 2>&1; then
  if ! { "${sudo[@]}" apt-get update -q >/dev/null \
    && "${sudo[@]}" apt-get install -y -q "${missing[@]}" >/dev/null; }; then
    echo "!! some of: ${missing[*]} could not be installed; the tests that need them will fail" \
      "and name them" >&2
  fi
fi
exit 0
