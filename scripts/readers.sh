#!/usr/bin/env bash
# Independent readers that the export tests open pixelgen's files with (tests/readers):
# Tiled's own renderer for .tmx/.tsx, and the `aseprite` library from PyPI for
# .aseprite files (the Godot reader, godot-parser, is a test extra of the main venv);
# and the browser the studio's page is tested in (Debian's chromium, driven by the
# playwright test extra, which downloads no browser of its own).
# Each is installed where this machine allows; a test whose reader is missing is
# skipped and says why. Nothing here fails the test run.
set -uo pipefail
cd "$(dirname "$0")/.."

# apt_install COMMAND PACKAGE NAME TESTS: install Debian's PACKAGE where COMMAND is
# missing (needs root and apt), or say which tests will skip.
apt_install() {
  command -v "$1" >/dev/null 2>&1 && return
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq "$2" >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "$2" >/dev/null 2>&1; } ||
      echo "readers: could not install $3; $4 will skip"
  else
    echo "readers: $1 missing and apt-get not usable; $4 will skip"
  fi
}

apt_install tmxrasterizer tiled "tiled (tmxrasterizer)" "the Tiled tests"
apt_install chromium chromium chromium "the studio's browser tests"  # tests/studio

# The aseprite package needs Python >= 3.12: find one (on PATH, or through pyenv).
reader=.readers/aseprite
if [ ! -x "$reader/bin/python" ]; then
  python=""
  for candidate in python3.13 python3.12; do
    if "$candidate" -c 'import sys; assert sys.version_info >= (3, 12)' >/dev/null 2>&1; then
      python=$candidate && break
    fi
  done
  if [ -z "$python" ] && command -v pyenv >/dev/null 2>&1; then
    for version in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.(1[2-9])' | sort -rV); do
      python="$(pyenv prefix "$version")/bin/python3" && break
    done
  fi
  if [ -n "$python" ] && "$python" -m venv "$reader" >/dev/null 2>&1 &&
    "$reader/bin/python" -m pip install --quiet --disable-pip-version-check "aseprite>=0.1,<0.2" 2>/dev/null; then
    :
  else
    rm -rf "$reader"
    echo "readers: no Python >= 3.12 with pip found for the aseprite reader; its tests will skip"
  fi
fi
exit 0
