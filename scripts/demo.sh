#!/usr/bin/env bash
# The main job: set up, train the VAE on the bundled colored sprites (tracked in a
# local MLflow store, ./mlflow.db), then sample a sheet of sprites into samples/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/pixelgen list-strategies
.venv/bin/pixelgen train vae -c configs/vae.yaml "$@"
.venv/bin/pixelgen sample vae -n 64 --seed 0 --scale 4 --background '#1d1d2b' --out samples/demo
echo "sprites: samples/demo/grid.png   runs: .venv/bin/mlflow ui --backend-store-uri sqlite:///mlflow.db"
