"""Training the denoisers: patches, the pipelines, a run that learns, resume, the command."""

import csv
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_nonlocal.cli import main
from keras_nonlocal.denoising import PatchSequence
from keras_nonlocal.denoising import load_denoiser
from keras_nonlocal.denoising import load_images
from keras_nonlocal.denoising import sample_batch
from keras_nonlocal.denoising import train_denoiser
from keras_nonlocal.training import read_events

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = {"base": "nl_dncnn", "depth": 4, "features": 16, "nonlocal_placement": (1,),
        "nonlocal_window": 8}
TENSORFLOW = keras.backend.backend() == "tensorflow"


def _smooth_images(n=3, size=40, channels=1, seed=0):
    """Smooth clean images: a small network learns to denoise them in a few steps."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    images = []
    for _ in range(n):
        a, b, c = rng.uniform(-1, 1, 3)
        image = 128 + 80 * np.sin(3 * a * xx + 2 * b * yy + c)
        images.append(np.repeat(image[..., None], channels, -1).astype("float32"))
    return images


def _dihedral(image):
    return [np.rot90(t, k) for t in (image, image[:, ::-1]) for k in range(4)]


def _which_transform(patch, image):
    for i, t in enumerate(_dihedral(image)):
        if t.shape == patch.shape and np.array_equal(t, patch):
            return i
    return None


def test_patches_are_rotated_and_flipped_crops_with_gaussian_noise():
    image = np.arange(8 * 8, dtype="float32").reshape(8, 8, 1)
    noisy, clean = sample_batch(np.random.default_rng(0), [image], 400, 8, sigma=15)
    seen = {_which_transform(patch, image) for patch in clean}
    assert seen == set(range(8))  # all eight, no other arrangement
    noise = noisy - clean
    assert abs(noise.std() - 15) < 0.3 and abs(noise.mean()) < 0.3


def test_crops_come_from_every_place_of_the_image():
    image = np.arange(30 * 20, dtype="float32").reshape(30, 20, 1)
    _, clean = sample_batch(np.random.default_rng(0), [image], 500, 4, sigma=0)
    # The smallest value of a crop is its corner's under any rotation.
    corners = {int(p.min()) for p in clean}
    assert len(corners) > 200
    assert all(0 <= c // 20 <= 26 and c % 20 <= 16 for c in corners)


def test_blind_patches_draw_sigma_per_patch_from_the_range():
    image = np.zeros((64, 64, 1), "float32")
    noisy, clean = sample_batch(np.random.default_rng(0), [image], 300, 32, sigma_range=(0, 55))
    stds = (noisy - clean).reshape(300, -1).std(axis=1)
    assert stds.min() < 5 and stds.max() > 50 and stds.max() < 57


def test_patch_sequence_is_reproducible_and_each_epoch_differs():
    images = _smooth_images()
    seq = PatchSequence(images, batch_size=4, patch_size=16, steps=2, sigma=25, seed=3)
    again = PatchSequence(images, batch_size=4, patch_size=16, steps=2, sigma=25, seed=3)
    np.testing.assert_array_equal(seq[1][0], again[1][0])
    first = seq[1][0]
    seq.on_epoch_end()
    assert not np.array_equal(seq[1][0], first)
    with pytest.raises(IndexError):
        seq[2]


@pytest.mark.skipif(not TENSORFLOW, reason="tf.data pipeline: TensorFlow backend")
def test_tf_data_patches_are_rotated_flipped_crops_with_the_noise_level():
    from keras_nonlocal.denoising import tf_patch_dataset

    image = np.arange(8 * 8, dtype="float32").reshape(8, 8, 1)
    ds = tf_patch_dataset([image], batch_size=200, patch_size=8, sigma=20, seed=0)
    noisy, clean = (b.numpy() for b in next(iter(ds)))
    assert {_which_transform(patch, image) for patch in clean} == set(range(8))
    assert abs((noisy - clean).std() - 20) < 0.5
    blind = tf_patch_dataset([np.zeros((40, 40, 1), "float32")], 200, 32, sigma_range=(0, 55), seed=1)
    noisy, clean = (b.numpy() for b in next(iter(blind)))
    stds = (noisy - clean).reshape(200, -1).std(axis=1)
    assert stds.min() < 5 and 50 < stds.max() < 57


@pytest.mark.skipif(not TENSORFLOW, reason="tf.data pipeline: TensorFlow backend")
def test_tf_data_picks_images_in_proportion_to_their_area():
    from keras_nonlocal.denoising import tf_patch_dataset

    small, large = np.zeros((10, 10, 1), "float32"), np.full((30, 30, 1), 1.0, "float32")
    ds = tf_patch_dataset([small, large], batch_size=1000, patch_size=4, sigma=0, seed=0)
    _, clean = next(iter(ds))
    share_large = float(clean.numpy().reshape(1000, -1).max(axis=1).mean())
    assert abs(share_large - 0.9) < 0.04


def test_images_load_from_a_folder_and_from_scikit_image(tmp_path):
    gray = load_images(None, channels=1)
    assert len(gray) == 9 and all(i.ndim == 3 and i.shape[-1] == 1 for i in gray)
    colour = load_images(None, channels=3)
    assert all(i.shape[-1] == 3 for i in colour)
    rgb = np.random.default_rng(0).integers(0, 256, (20, 30, 3)).astype("uint8")
    keras.utils.save_img(str(tmp_path / "a.png"), rgb)
    (tmp_path / "notes.txt").write_text("not an image")
    loaded = load_images(str(tmp_path), channels=3)
    assert len(loaded) == 1
    np.testing.assert_array_equal(loaded[0], rgb.astype("float32"))
    assert load_images(str(tmp_path), channels=1)[0].shape == (20, 30, 1)


def test_bad_training_input_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_images(str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="No image"):
        load_images(str(tmp_path))
    with pytest.raises(ValueError, match="patch_size=64 is larger"):
        train_denoiser(_smooth_images(size=40), TINY, sigma=25, patch_size=64,
                       output_dir=str(tmp_path / "run"))
    with pytest.raises(ValueError, match="channel"):
        train_denoiser(_smooth_images(channels=3), TINY, sigma=25, patch_size=16,
                       output_dir=str(tmp_path / "run"))
    with pytest.raises(ValueError, match="sigma"):
        train_denoiser(_smooth_images(), TINY, patch_size=16, output_dir=str(tmp_path / "run"))


def _mse(model, images, sigma, seed=123):
    noisy, clean = sample_batch(np.random.default_rng(seed), images, 32, 24, sigma=sigma)
    return float(np.mean((keras.ops.convert_to_numpy(model(noisy)) - clean) ** 2))


@pytest.mark.timeout(300)
def test_a_short_run_lowers_the_loss(tmp_path):
    keras.utils.set_random_seed(0)
    images = _smooth_images()
    run = train_denoiser(images, TINY, sigma=25, epochs=3, steps_per_epoch=25, batch_size=8,
                         patch_size=24, learning_rate=3e-3, output_dir=str(tmp_path), seed=0,
                         verbose=0, val_images=images[:1])
    # A new model is close to the identity: its error is the noise, 25^2.
    assert _mse(run.model, images, 25) < 0.75 * 25**2
    losses = run.history.history["loss"]
    assert losses[-1] < losses[0]
    assert run.history.history["val_psnr"][-1] > 10 * np.log10(255**2 / 25**2) + 1  # the noisy PSNR + 1 dB
    for name in ("model.keras", "model.weights.h5", "last.keras", "training_log.csv",
                 "train_config.json", "events.jsonl"):
        assert os.path.exists(tmp_path / name), name
    reloaded = load_denoiser(str(tmp_path / "model.keras"))
    x = images[0][None] + 25
    np.testing.assert_allclose(keras.ops.convert_to_numpy(reloaded(x)),
                               keras.ops.convert_to_numpy(run.model(x)), rtol=1e-5, atol=1e-3)


@pytest.mark.timeout(300)
def test_a_blind_run_trains_over_the_range(tmp_path):
    keras.utils.set_random_seed(0)
    images = _smooth_images()
    run = train_denoiser(images, TINY, sigma_range=(0, 55), epochs=3, steps_per_epoch=25,
                         batch_size=8, patch_size=24, learning_rate=3e-3,
                         output_dir=str(tmp_path), seed=0, verbose=0)
    assert _mse(run.model, images, 50) < 0.75 * 50**2
    with open(tmp_path / "train_config.json") as f:
        assert json.load(f)["sigma_range"] == [0, 55]


class _WeightsPerEpoch(keras.callbacks.Callback):
    """Keeps the model's weights at the end of every epoch."""

    def __init__(self):
        super().__init__()
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.get_weights())


@pytest.mark.timeout(300)
def test_best_keras_is_the_epoch_of_highest_validation_psnr(tmp_path):
    images = _smooth_images()
    record = _WeightsPerEpoch()
    # A high rate makes the validation score move up and down between epochs.
    run = train_denoiser(images, TINY, sigma=25, epochs=4, steps_per_epoch=3, batch_size=4,
                         patch_size=16, output_dir=str(tmp_path), seed=0, verbose=0,
                         val_images=images[:1], learning_rate=3e-2, callbacks=[record])
    scores = run.history.history["val_psnr"]
    best = load_denoiser(str(tmp_path / "best.keras")).get_weights()
    for a, b in zip(best, record.weights[int(np.argmax(scores))]):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(load_denoiser(str(tmp_path / "last.keras")).get_weights(), record.weights[-1]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.timeout(300)
def test_initial_weights_start_a_fine_tuning_run(tmp_path):
    images = _smooth_images()
    kwargs = dict(epochs=1, steps_per_epoch=2, batch_size=4, patch_size=16, seed=0, verbose=0)
    first = train_denoiser(images, TINY, sigma=25, output_dir=str(tmp_path / "a"), **kwargs)
    # At a rate of 1e-12 the trainable weights stay those of the first model (the BatchNorm
    # statistics move: they are not compared).
    for source in ("model.keras", "model.weights.h5"):
        tuned = train_denoiser(images, TINY, sigma=15, output_dir=str(tmp_path / source),
                               initial_weights=str(tmp_path / "a" / source),
                               learning_rate=1e-12, final_learning_rate=1e-12, **kwargs)
        pairs = list(zip(first.model.trainable_weights, tuned.model.trainable_weights))
        assert len(pairs) == len(first.model.trainable_weights) > 10
        for a, b in pairs:
            np.testing.assert_allclose(keras.ops.convert_to_numpy(a),
                                       keras.ops.convert_to_numpy(b), atol=1e-6)
    with open(tmp_path / "model.keras" / "train_config.json") as f:
        assert json.load(f)["initial_weights"].endswith("model.keras")
    other = {**TINY, "features": 8}
    with pytest.raises(ValueError, match="another architecture"):
        train_denoiser(images, other, sigma=25, output_dir=str(tmp_path / "b"),
                       initial_weights=str(tmp_path / "a" / "model.keras"), **kwargs)
    with pytest.raises(FileNotFoundError, match="initial_weights"):
        train_denoiser(images, TINY, sigma=25, output_dir=str(tmp_path / "c"),
                       initial_weights=str(tmp_path / "none.keras"), **kwargs)
    with pytest.raises(ValueError, match="clipnorm"):
        train_denoiser(images, TINY, sigma=25, output_dir=str(tmp_path / "d"), clipnorm=0,
                       **kwargs)


@pytest.mark.timeout(300)
def test_clipnorm_is_the_optimizers_global_clipnorm(tmp_path):
    """`clipnorm` reaches the optimizer as Keras' global clipping (Keras tests the clipping)."""
    images = _smooth_images()
    run = train_denoiser(images, TINY, sigma=25, epochs=1, steps_per_epoch=1, batch_size=4,
                         patch_size=16, seed=0, verbose=0, output_dir=str(tmp_path),
                         clipnorm=2.5)
    assert run.model.optimizer.global_clipnorm == 2.5


class _Crash(keras.callbacks.Callback):
    """Simulates a kill: raises once the optimizer has made `step` steps."""

    def __init__(self, step):
        super().__init__()
        self.step = step

    def on_train_batch_end(self, batch, logs=None):
        if int(keras.ops.convert_to_numpy(self.model.optimizer.iterations)) >= self.step:
            raise KeyboardInterrupt("simulated kill")


@pytest.mark.timeout(300)
def test_a_killed_run_resumes_from_its_last_epoch(tmp_path):
    images = _smooth_images()
    kwargs = dict(epochs=4, steps_per_epoch=3, batch_size=4, patch_size=16,
                  output_dir=str(tmp_path), seed=0, verbose=0)
    with pytest.raises(KeyboardInterrupt):
        train_denoiser(images, TINY, sigma=25, callbacks=[_Crash(7)], **kwargs)  # in epoch 3
    assert not os.path.exists(tmp_path / "model.keras")
    run = train_denoiser(images, TINY, sigma=25, **kwargs)
    assert run.initial_step == 6  # two finished epochs of three steps
    assert run.final_step == 12
    begins = [e for e in read_events(tmp_path / "events.jsonl") if e["event"] == "train_begin"]
    assert [(b["step"], b["epoch"]) for b in begins] == [(0, 0), (6, 2)]
    with open(tmp_path / "training_log.csv") as f:
        assert [int(row["epoch"]) for row in csv.DictReader(f)] == [0, 1, 2, 3]
    # Started again when finished, it does not train again.
    assert train_denoiser(images, TINY, sigma=25, **kwargs).final_step == 12


@pytest.mark.timeout(300)
def test_the_command_trains_on_a_folder(tmp_path, capsys):
    folder = tmp_path / "images"
    folder.mkdir()
    for i, image in enumerate(_smooth_images(n=2)):
        keras.utils.save_img(str(folder / f"{i}.png"), image.astype("uint8"), scale=False)
    out = tmp_path / "run"
    code = main(["train-denoiser", "--images", str(folder), "--sigma", "25", "--model",
                 json.dumps(TINY), "--epochs", "2", "--steps", "3", "--batch-size", "4",
                 "--patch-size", "16", "--out", str(out), "--verbose", "0", "--seed", "1"])
    assert code == 0
    assert "trained from step 0 to 6" in capsys.readouterr().out
    assert load_denoiser(str(out / "model.keras")).input_shape == (None, None, None, 1)
    if TENSORFLOW:
        assert os.listdir(out / "tensorboard")


def test_the_command_needs_a_noise_choice(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train-denoiser", "--sigma", "25", "--blind", "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit):
        main(["train-denoiser", "--out", str(tmp_path)])
    assert main(["train-denoiser", "--sigma", "25", "--model", "unet", "--out", str(tmp_path)]) == 2
    assert "Unknown denoiser config" in capsys.readouterr().err


@pytest.mark.timeout(300)
def test_jax_trains_without_tensorflow_and_lowers_the_loss(tmp_path):
    """The command on JAX with `import tensorflow` failing: the NumPy pipeline."""
    pytest.importorskip("jax")
    folder = tmp_path / "images"
    folder.mkdir()
    for i, image in enumerate(_smooth_images(n=3)):
        keras.utils.save_img(str(folder / f"{i}.png"), image.astype("uint8"), scale=False)
    out = tmp_path / "run"
    argv = ["--images", str(folder), "--sigma", "25", "--model", json.dumps(TINY), "--epochs", "2",
            "--steps", "12", "--batch-size", "8", "--patch-size", "24", "--lr", "0.003",
            "--out", str(out), "--verbose", "2", "--seed", "0"]
    script = (
        "import sys; sys.modules['tensorflow'] = None\n"
        "import keras; keras.utils.set_random_seed(0)\n"
        "from keras_nonlocal.cli import run_command\n"
        f"sys.exit(run_command('train-denoiser', {argv!r}))\n"
    )
    env = dict(os.environ, KERAS_BACKEND="jax", PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                            text=True, timeout=280, cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "trained from step 0 to 24" in result.stdout
    with open(out / "train_config.json") as f:
        assert json.load(f)["backend"] == "jax"
    with open(out / "training_log.csv") as f:
        losses = [float(row["loss"]) for row in csv.DictReader(f)]
    assert len(losses) == 2 and losses[1] < losses[0] < 1.2 * 25**2
