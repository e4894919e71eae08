"""Runnable script: `python applications/convert_checkpoint.py --help` (same as `keras-nonlocal convert`).

Official `.pkl` in, Keras `.weights.h5` out, with a report of what was mapped:

    python applications/convert_checkpoint.py i3d_nonlocal_8x8_IN_pretrain_400k \
        nl_i3d_r50_8x8.weights.h5
    python applications/convert_checkpoint.py my_run/c2_model_iter400000.pkl \
        out.weights.h5 --model nl_i3d_r50 --input-setting 8x8
"""

import os
import sys

try:
    import keras_nonlocal  # noqa: F401
except ImportError:  # a clone without `pip install -e .`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from keras_nonlocal.cli import run_command

if __name__ == "__main__":
    sys.exit(run_command("convert", prog="convert_checkpoint.py"))
