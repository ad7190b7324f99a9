#!/usr/bin/env bash
# Prove the plugin template works the first time: generate a plugin with
# `pixelgen new-strategy`, install core and the plugin into a fresh virtual
# environment (through `pixelgen install`), run the plugin's own tests (the
# contract suite), train and sample it, then uninstall it. Run by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"${PYTHON:-python3}" -m venv "$work/venv"
bin="$work/venv/bin"
"$bin/python" -m pip install --quiet --disable-pip-version-check --no-compile -c constraints.txt "$root"
bash scripts/compile.sh "$bin/python"
cd "$work"
"$bin/pixelgen" new-strategy sparkle --dir pixelgen-sparkle
"$bin/pixelgen" install --quiet -c "$root/constraints.txt" -e "pixelgen-sparkle[test]"
"$bin/pixelgen" plugins --json | "$bin/python" -c '
import json, sys
rows = json.load(sys.stdin)
assert any(r["strategies"] == ["sparkle"] and r["status"] == "ok" for r in rows), rows
'

(cd pixelgen-sparkle && "$bin/python" -m pytest -q -p no:cacheprovider)
"$bin/pixelgen" train sparkle -q data.focused=true training.epochs=2 tracking.enabled=false
"$bin/pixelgen" sample sparkle --checkpoint runs/sparkle/* -n 8 --temperature 0.8 --out out
test -f out/grid.png
"$bin/pixelgen" uninstall -y pixelgen-sparkle
if "$bin/pixelgen" list-strategies --json | grep -q sparkle; then
  echo "uninstall left the plugin behind" >&2; exit 1
fi
echo "scaffold check passed"
