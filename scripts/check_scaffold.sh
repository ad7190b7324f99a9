#!/usr/bin/env bash
# Prove the plugin template works the first time, as docs/plugins.md tells an author
# to use it: generate a plugin with `pixelgen new-strategy`, install it into pixelgen's
# own environment with `pixelgen install`, run the plugin's own tests (the contract
# suite), run the docs' plugin commands and snippets, then uninstall it. Run by scripts/test.sh after setup.sh.
#
# It uses .venv rather than a fresh virtual environment: installing torch a second time
# was a quarter of CI. What a fresh environment caught is tested directly instead:
# tests/test_packaging.py checks that core imports only what it declares and that
# every data file it reads is shipped as package data.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
bin="$root/.venv/bin"
if "$bin/python" -m pip show -q pixelgen-sparkle > /dev/null 2>&1; then
  echo "pixelgen-sparkle is already installed in .venv and the check would remove it;" \
    "uninstall it first" >&2
  exit 1
fi
work="$(mktemp -d)"
# Leave the environment as it was, even when a step fails or Ctrl-C stops the check.
trap '"$bin/pixelgen" uninstall -y pixelgen-sparkle > /dev/null 2>&1 || true; rm -rf "$work"' EXIT
cd "$work"
"$bin/pixelgen" new-strategy sparkle --dir pixelgen-sparkle
"$bin/pixelgen" install --quiet -c "$root/constraints.txt" -e "pixelgen-sparkle[test]"
# Only the new plugin is loaded, as in an environment that has no other plugin.
export PIXELGEN_LOAD_PLUGINS=pixelgen-sparkle
"$bin/pixelgen" plugins --json | "$bin/python" -c '
import json, sys
rows = json.load(sys.stdin)
assert any(r["strategies"] == ["sparkle"] and r["status"] == "ok" for r in rows), rows
'
(cd pixelgen-sparkle && "$bin/python" -m pytest -q -p no:cacheprovider)
# The plugin commands and Python snippets the README and docs/plugins.md show, as written
# (tests/test_doc_commands.py runs every other command they show).
"$bin/pixelgen" plugins
"$bin/pixelgen" train sparkle training.epochs=5
"$bin/pixelgen" sample sparkle -n 16 --temperature 0.8 --out out
test -f out/grid.png
if "$bin/pixelgen" --disable-plugin pixelgen-sparkle list-strategies | grep -q sparkle; then
  echo "--disable-plugin left the plugin in" >&2; exit 1
fi
"$bin/python" - "$root/docs/plugins.md" <<'PY'
import re, sys
blocks = re.findall(r"```python\n(.*?)```", open(sys.argv[1]).read(), re.S)
assert len(blocks) == 3, len(blocks)
for block in blocks:
    exec(compile(block, "docs/plugins.md", "exec"), {})
PY
# docs/learn/capstone.md's plugin part: its PixelCNN replaces the generated strategy,
# passes the plugin's own contract suite, trains on a sliced sheet and is compared.
"$bin/python" - "$root/docs/learn/capstone.md" pixelgen-sparkle/pixelgen_sparkle/strategy.py <<'PY'
import re, sys
[code] = re.findall(r"```python\n(.*?)```", open(sys.argv[1]).read(), re.S)
open(sys.argv[2], "w").write(code)
PY
# Shorter than the chapter's, to keep CI short: the contract suite leaves out its check
# at five sprite sizes (an autoregressive model samples 256 to 1024 passes a sprite), and
# training and comparing take 2 epochs and 32 sprites instead of 10 and 500.
(cd pixelgen-sparkle && "$bin/python" -m pytest -q -p no:cacheprovider -k "not every_declared_size")
"$bin/pixelgen" data slice "$root/pixelgen_core/data/sheets/kenney-mono.png" my-sprites/ --tile 16
"$bin/pixelgen" train sparkle data.dataset=my-sprites/ training.epochs=2
"$bin/pixelgen" compare --runs -n 32 --repeats 2 --out comparison
test -f comparison/compare.md
"$bin/pixelgen" uninstall -y pixelgen-sparkle
unset PIXELGEN_LOAD_PLUGINS
if "$bin/pixelgen" list-strategies --json | grep -q sparkle; then
  echo "uninstall left the plugin behind" >&2; exit 1
fi
echo "scaffold check passed"
