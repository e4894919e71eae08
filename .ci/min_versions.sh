#!/usr/bin/env bash
# Test environment at the lowest versions that setup.cfg declares.
#
# The floors in setup.cfg (`keras>=`, `tensorflow>=`, `numpy>=` in
# install_requires and `keras-tuner>=` in the `tune` extra) are promises to
# users. This script reads them from setup.cfg, installs exactly those
# versions in `.venv-min` and runs the layer and application tests there, so a
# floor that stops being true fails CI instead of failing a user.
#
# TensorFlow is installed as `tensorflow-cpu` at the declared version: the same
# code as `tensorflow`, a smaller download. Besides the layer and model tests
# (without the `slow` full-size builds), the optimizer and tuner tests run:
# they hold the checks on the private Keras / keras-tuner APIs the package
# relies on, which must hold at the floors too. A few minutes in all.
#
# Usage: .ci/min_versions.sh [extra pytest args]
# Environment: PYTHON (interpreter for the venv, default python3),
#              MIN_VENV (venv folder, default .venv-min).
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
VENV="${MIN_VENV:-.venv-min}"

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi

# One `name==version` per line, from the `>=` floors in setup.cfg.
PINS_TEXT="$("$PYTHON" .ci/min_versions.py setup.cfg)"
mapfile -t PINS <<< "$PINS_TEXT"
printf 'minimum versions from setup.cfg: %s\n' "${PINS[*]}"

# The other dependencies (h5py; matplotlib and scikit-learn of the `tune`
# extra) at whatever version pip finds compatible with the pins.
"$VENV/bin/python" -m pip install --quiet "${PINS[@]}" h5py matplotlib scikit-learn \
    pytest pytest-timeout
# The package itself without dependencies, so pip cannot move the pins (nor
# add `tensorflow`, which `tensorflow-cpu` does not satisfy by name).
"$VENV/bin/python" -m pip install --quiet --no-deps -e .

# Fail when pip resolved anything else than the floors (e.g. a constraint file).
"$VENV/bin/python" .ci/min_versions.py setup.cfg --check

exec "$VENV/bin/python" -m pytest -q -p no:cacheprovider -m "not slow" \
    tests/layers tests/applications \
    tests/training/test_optimizer.py tests/tuning/test_tuners.py "$@"
