"""Runnable script: `python applications/evaluate.py --help` (same as `keras-nonlocal evaluate`)."""

import os
import sys

try:
    import keras_nonlocal  # noqa: F401
except ImportError:  # a clone without `pip install -e .`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from keras_nonlocal.training.evaluate_command import main

if __name__ == "__main__":
    sys.exit(main())
