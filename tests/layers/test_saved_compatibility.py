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


def test_every_class_is_registered_under_the_package_name():
    from keras_nonlocal import layers

    for name in ("NonLocalBlock", "GaussianNonLocal", "EmbeddedGaussianNonLocal",
                 "DotProductNonLocal", "ConcatenationNonLocal", "Affine"):
        cls = getattr(layers, name)
        assert keras.saving.get_registered_name(cls) == f"keras_nonlocal>{name}"
        assert keras.saving.get_registered_object(f"keras_nonlocal>{name}") is cls


_LOAD = """
import sys
import keras
if sys.argv[2] == "import":
    import keras_nonlocal
try:
    keras.saving.load_model(sys.argv[1])
except Exception as error:
    print("ERROR", error)
else:
    print("LOADED")
"""


def _load_in_fresh_process(path, with_import):
    import subprocess
    import sys

    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    result = subprocess.run(
        [sys.executable, "-c", _LOAD, path, "import" if with_import else "none"],
        capture_output=True, text=True, timeout=300, env=env, cwd=root,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_loading_needs_the_package_imported_and_the_error_names_it():
    # Keras finds a custom class only once its module has registered it; the
    # error then names the registered name, `keras_nonlocal>NonLocalBlock`.
    path = os.path.join(FIXTURES, "saved_blocks.keras")
    without = _load_in_fresh_process(path, with_import=False)
    assert "ERROR" in without
    assert "Could not locate class 'NonLocalBlock'" in without
    assert "keras_nonlocal>NonLocalBlock" in without
    assert "LOADED" in _load_in_fresh_process(path, with_import=True)
