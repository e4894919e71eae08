"""Runnable script: `python applications/tune.py --help` (same as `keras-nonlocal tune`).

Examples:

    python applications/tune.py                      # the demo: built-in digits, 6 trials
    python applications/tune.py --tuner hyperband --epochs 9
    python applications/tune.py --data train.csv --val-data val.csv --backbone r50
    python applications/tune.py --distributed 2      # a chief and 2 workers on 127.0.0.1

See docs/tuning.md.
"""

import os
import sys

try:
    import keras_nonlocal  # noqa: F401
except ImportError:  # a clone without `pip install -e .`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from keras_nonlocal.cli import run_command

if __name__ == "__main__":
    sys.exit(run_command("tune", prog="tune.py"))
