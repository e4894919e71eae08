"""Models saved by earlier versions still load and compute what they did.

`fixtures/saved_blocks.keras` was written by the code of commit 93700e6 (see
`fixtures/make_saved_blocks.py`), with random weights in every mode, norm,
rank and data format; `fixtures/saved_blocks.npz` holds its inputs and the
outputs it gave then.
"""

import os

import keras
import numpy as np

import keras_nonlocal.layers  # noqa: F401  (registers the block classes)

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


def test_a_model_saved_before_the_quantization_change_loads_and_gives_its_outputs():
    recorded = np.load(os.path.join(FIXTURES, "saved_blocks.npz"))
    model = keras.saving.load_model(os.path.join(FIXTURES, "saved_blocks.keras"))
    inputs = {name: recorded[f"input_{name}"] for name in ("video", "image", "sequence")}
    outputs = model(inputs, training=False)
    assert len(outputs) == 4
    for i, got in enumerate(outputs):
        want = recorded[f"output_{i}"]
        got = keras.ops.convert_to_numpy(got)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
    # The blocks are not the identity: a load that left weights at their
    # initial values would give the inputs back.
    assert np.abs(recorded["output_0"] - recorded["input_video"]).max() > 0.1
