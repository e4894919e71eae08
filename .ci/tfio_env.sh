#!/usr/bin/env bash
# Second test environment for the tensorflow-io path of keras_nonlocal.data.
#
# tensorflow-io 0.37.1 (its last release) does not load with the newest
# TensorFlow ("undefined symbol" in libtensorflow_io.so), so the main
# environment cannot exercise it. This script builds `.venv-tfio` pinned to the
# TensorFlow that tensorflow-io 0.37.1 was built against and runs only the
# tests marked `tfio` there.
#
# Usage: .ci/tfio_env.sh [extra pytest args]
# Environment: PYTHON (interpreter for the venv, default python3),
#              TFIO_VENV (venv folder, default .venv-tfio).
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
VENV="${TFIO_VENV:-.venv-tfio}"

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi

# numpy<2: tensorflow 2.17 and tensorflow-io 0.37.1 were built against NumPy 1.x.
# Resolved together on 2026-11-25 (Python 3.11): tensorflow-cpu 2.17.1,
# tensorflow-io 0.37.1, keras 3.15.1, numpy 1.26.4, h5py 3.16.0, pytest 9.2.0.
"$VENV/bin/python" -m pip install --quiet \
    "tensorflow-cpu==2.17.1" \
    "tensorflow-io==0.37.1" \
    keras \
    "numpy<2" \
    h5py \
    pytest

"$VENV/bin/python" - <<'PY'
from keras_nonlocal.data import decoding
print("tensorflow-io available:", decoding.TFIO_AVAILABLE)
if not decoding.TFIO_AVAILABLE:
    raise SystemExit("tensorflow-io did not load: " + decoding.TFIO_ERROR)
PY

exec "$VENV/bin/python" -m pytest tests/data -m tfio -q -p no:cacheprovider "$@"
