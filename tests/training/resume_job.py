"""A training run for the kill/resume test (run as a subprocess).

Usage: python resume_job.py OUTPUT_DIR MAX_STEPS SECONDS_PER_STEP
Trains the tiny model on synthetic clips, backing up every 2 steps; the
optional pause per step gives the test time to kill it mid-run.
"""

import os
import sys
import time

import tensorflow as tf

tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import keras  # noqa: E402

from keras_nonlocal.training import train  # noqa: E402
from tests.training import helpers  # noqa: E402


class Pause(keras.callbacks.Callback):
    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds

    def on_train_batch_end(self, batch, logs=None):
        time.sleep(self.seconds)


def main(output_dir, max_steps, pause):
    clips, labels = helpers.learnable_clips(16, seed=0)
    ds = tf.data.Dataset.from_tensor_slices((clips, labels)).batch(4)
    recipe = helpers.tiny_recipe(max_steps=max_steps, checkpoint_every=2)
    run = train("i3d_r50", ds, recipe=recipe, output_dir=output_dir, classes=3, verbose=2,
                callbacks=[Pause(pause)], model_kwargs=helpers.TINY_MODEL_KWARGS)
    print(f"RESULT initial_step={run.initial_step} final_step={run.final_step}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]))
