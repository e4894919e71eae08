"""One worker of the MultiWorkerMirroredStrategy test (run as a subprocess).

Usage: python multi_worker_job.py OUTPUT_DIR RESULT.npz, with TF_CONFIG set.
Trains the tiny model a few steps on learnable synthetic clips and saves its
final weights and per-epoch losses.
"""

import os
import sys

import tensorflow as tf

tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from keras_nonlocal.training import get_strategy  # noqa: E402
from keras_nonlocal.training import train  # noqa: E402
from tests.training import helpers  # noqa: E402


def main(output_dir, result_path):
    strategy = get_strategy("multi_worker", communication="ring")  # first TF work
    import numpy as np

    clips, labels = helpers.learnable_clips(32, seed=0)  # same data on every worker
    ds = tf.data.Dataset.from_tensor_slices((clips, labels)).shuffle(32, seed=1).batch(8)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    ds = ds.with_options(options)
    recipe = helpers.tiny_recipe(batch_size=8, max_steps=12, checkpoint_every=2, base_lr=0.05,
                                 dropout_rate=0.0)
    run = train("i3d_r50", ds, recipe=recipe, strategy=strategy, output_dir=output_dir,
                classes=3, verbose=2, model_kwargs=helpers.TINY_MODEL_KWARGS)
    # Trainable weights only: BN moving statistics are per replica, as on the
    # official multi-GPU runs (the chief's are the ones saved).
    weights = {f"w{i}": np.asarray(v) for i, v in enumerate(run.model.trainable_weights)}
    np.savez(result_path, losses=np.asarray(run.history.history["loss"]),
             steps=np.asarray([run.initial_step, run.final_step]),
             replicas=np.asarray(strategy.num_replicas_in_sync), **weights)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
