#!/usr/bin/env bash
# Create .venv (once) and install pixelgen with the shipped plugins, editable.
# Extra arguments are passed to pip (scripts/test.sh adds the test-only plugin).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  "${PYTHON:-python3}" -m venv .venv
fi
pip=(.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-compile)
# The build backend first, so that pip builds the editable packages below in this
# environment instead of making a new isolated one for each (36 s of 56 in a no-op run).
"${pip[@]}" "setuptools>=77"
# constraints.txt keeps pip on the CPU build of torch; see the README.
"${pip[@]}" --no-build-isolation -c constraints.txt \
  -e ".[test]" -e plugins/vae -e plugins/vqvae -e plugins/diffusion -e plugins/maskgit "$@"
bash scripts/compile.sh .venv/bin/python
