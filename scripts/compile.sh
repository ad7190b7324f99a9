#!/usr/bin/env bash
# Byte-compile everything installed in the environment of the Python given, on every
# core. The installs run pip with --no-compile: pip compiles one file at a time, which
# on a 2-core machine is more than half of installing torch. Compiling here matters
# where PYTHONDONTWRITEBYTECODE is set (as on this project's VMs): Python then never caches
# what it compiles on import, and would compile torch again in every process.
# Installed packages' own test suites (a fifth of the files) are left out: pixelgen
# never imports them. Files that do not compile (some packages ship templates named
# .py) are skipped, as pip skips them.
set -euo pipefail
python="$1"
site="$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
"$python" -m compileall -q -j 0 -x '/tests?/' "$site" > /dev/null || true
