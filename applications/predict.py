"""Runnable script: `python applications/predict.py --help` (same as `keras-nonlocal predict`).

Top-5 Kinetics-400 classes of a video with the official NL-I3D weights:

    python applications/predict.py clip.mp4
    python applications/predict.py clip.mp4 --model i3d_r50 --views 1x1 > top5.txt
"""

import os
import sys

try:
    import keras_nonlocal  # noqa: F401
except ImportError:  # a clone without `pip install -e .`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from keras_nonlocal.cli import run_command

if __name__ == "__main__":
    sys.exit(run_command("predict", prog="predict.py"))
