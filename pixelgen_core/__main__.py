"""`python -m pixelgen_core ...` is the `pixelgen` command (how `pixelgen studio` starts
trainings, whatever the script's name on PATH)."""

from pixelgen_core.cli import main

main()
