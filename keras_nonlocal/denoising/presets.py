"""Pretrained denoiser presets, as data, and `load_denoiser`.

Each row of `DENOISER_PRESETS` names one trained model: its noise level
(`sigma` on the 0–255 scale, `None` for the blind model with its
`sigma_range`), its channels, its architecture (a `DENOISER_CONFIGS` name),
its weights file (shipped inside the package, under
`keras_nonlocal/denoising/weights/`) and that file's SHA-256. A row whose
file is not in the package has not been trained for this release: asking for
it raises a `FileNotFoundError` that says so, never a model with random
weights.

The training images of the presets are the 400 Berkeley Segmentation Dataset
images of DnCNN's recipe, which are for non-commercial research.
"""

import hashlib
import os

import keras

from keras_nonlocal.denoising.models import build_denoiser
from keras_nonlocal.denoising.models import get_config
from keras_nonlocal.weights import WeightsIntegrityError

WEIGHTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights")

# The known noise levels with a model of their own; any other sigma (or none)
# gets the blind model.
KNOWN_SIGMAS = (15, 25, 50)
BLIND_PRESET = "nl_dncnn_gray_blind"
# The same network and training without the block, at sigma = 25.
ABLATION_PRESET = "dncnn_gray_sigma25"


def _preset(config, sigma, sha256=None, sigma_range=None, channels=1):
    name = (
        f"{config}_{'gray' if channels == 1 else 'color'}_"
        + ("blind" if sigma is None else f"sigma{sigma}")
    )
    return name, {
        "sigma": sigma,
        "sigma_range": sigma_range or ((sigma, sigma) if sigma is not None else None),
        "channels": channels,
        "config": config,
        "file": f"{name}.weights.h5",
        "sha256": sha256,
        "trained_on": "BSD400 (Berkeley Segmentation Dataset, 400 train+val images)",
    }


DENOISER_PRESETS = dict(
    [
        _preset("nl_dncnn", 15, "c0d9ff165d50ad34d0b3d90cf4add1445d647b1b166374e18374d08e01aef963"),
        _preset("nl_dncnn", 25, "c635095cf1c9e5a7c5acf24b9b665eb71c733fe581cb4b5d4d5fcef03bda8faf"),
        _preset("nl_dncnn", 50, "c78ff81c0df1935b7c6ecb771ee94734f46cfd36ceaae1a11ead1b8b348fb634"),
        _preset("nl_dncnn", None, "cc172d32a7d305bef7f8bdbac16f52ec6cde609a2268593693ef5f4956aff11c",
                sigma_range=(0, 55)),
        # ABLATION_PRESET
        _preset("dncnn", 25, "92abe1e74f36da10aa0d3984e35801caf39c07f389a801a9d5b4d5a96301c3a1"),
    ]
)


def preset_for_sigma(sigma):
    """The preset `load_denoiser(None, sigma)` picks.

    Args:
        sigma: the noise standard deviation on the 0–255 scale, or `None`.

    Returns:
        The known-σ preset for 15, 25 or 50, otherwise the blind preset.

    Example:

    >>> preset_for_sigma(25)
    'nl_dncnn_gray_sigma25'
    >>> preset_for_sigma(30), preset_for_sigma(None)
    ('nl_dncnn_gray_blind', 'nl_dncnn_gray_blind')
    """
    if sigma is not None:
        if isinstance(sigma, bool) or not isinstance(sigma, (int, float)):
            raise ValueError(f"`sigma` must be a number or None. Received: sigma={sigma!r}")
        if not sigma >= 0:  # also rejects NaN
            raise ValueError(f"`sigma` must be >= 0 (0-255 scale). Received: sigma={sigma!r}")
    for known in KNOWN_SIGMAS:
        if sigma is not None and float(sigma) == known:
            return f"nl_dncnn_gray_sigma{known}"
    return BLIND_PRESET


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def preset_path(name):
    """The verified weights file of a preset.

    Args:
        name: a key of `DENOISER_PRESETS`.

    Returns:
        The path of its `.weights.h5` inside the package.

    Raises:
        ValueError: for an unknown preset.
        FileNotFoundError: when the preset's weights are not shipped (not
            trained for this release).
        WeightsIntegrityError: when the file's SHA-256 is not the preset's.
    """
    if name not in DENOISER_PRESETS:
        raise ValueError(
            f"Unknown denoiser preset {name!r}. Expected one of {sorted(DENOISER_PRESETS)}."
        )
    preset = DENOISER_PRESETS[name]
    path = os.path.join(WEIGHTS_DIR, preset["file"])
    if preset["sha256"] is not None and not os.path.exists(path):
        raise FileNotFoundError(
            f"The weights of denoiser preset {name!r} are missing from this installation "
            f"({path}); reinstall keras-nonlocal."
        )
    if preset["sha256"] is None:
        raise FileNotFoundError(
            f"The weights of denoiser preset {name!r} are not shipped yet (this release "
            f"has no trained {preset['file']}). Train them with `keras-nonlocal "
            f"train-denoiser` and pass the resulting .keras or .weights.h5 file as weights."
        )
    actual = _sha256(path)
    if actual != preset["sha256"]:
        raise WeightsIntegrityError(
            f"{path} has SHA-256 {actual}, but preset {name!r} expects "
            f"{preset['sha256']}; reinstall keras-nonlocal."
        )
    return path


def _load_weights_file(model, path):
    try:
        model.load_weights(path)
    except ValueError as e:
        raise ValueError(
            f"{path} does not fit the denoiser architecture "
            f"(channels={model.input_shape[-1]}): {e}. Pass the `config` it was trained with."
        ) from None


def load_denoiser(weights=None, sigma=None, config=None, channels=None):
    """A denoiser with its weights, chosen like the video zoo's `weights=`.

    Args:
        weights: a preset name from `DENOISER_PRESETS`, a `.keras` model
            file, a `.weights.h5` file (the architecture is then `config`),
            or `None` to pick the preset from `sigma`.
        sigma: the noise level on the 0–255 scale, used when `weights` is
            `None`: 15, 25 or 50 pick that level's model, anything else
            (or `None`) the blind model.
        config: the architecture of a `.weights.h5` file (a
            `DenoiserConfig`, a name or a dict); default `"nl_dncnn"`.
        channels: with a `.weights.h5` file, override `config`'s channels.

    Returns:
        A `keras.Model` mapping noisy `(batch, H, W, C)` images on the
        0–255 scale to denoised images.

    Raises:
        ValueError: an unknown preset or file type, or weights that do not
            fit the architecture.
        FileNotFoundError: a missing file, or a preset whose weights are not
            shipped yet.
        WeightsIntegrityError: a shipped file that fails its SHA-256.

    Example:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "tiny.weights.h5")
    >>> tiny = {"base": "dncnn", "depth": 3, "features": 4}
    >>> build_denoiser(tiny).save_weights(path)
    >>> load_denoiser(path, config=tiny).count_params()
    225
    """
    if weights is None:
        weights = preset_for_sigma(sigma)
    if not isinstance(weights, (str, os.PathLike)):
        raise ValueError(
            "`weights` must be a preset name, a .keras or .weights.h5 path, or None. "
            f"Received: weights={weights!r}"
        )
    weights = os.fspath(weights)
    if weights in DENOISER_PRESETS:
        preset = DENOISER_PRESETS[weights]
        path = preset_path(weights)
        model = build_denoiser(get_config(preset["config"]).replace(channels=preset["channels"]),
                               name=weights)
        _load_weights_file(model, path)
        return model
    if weights.endswith(".keras"):
        if not os.path.isfile(weights):
            raise FileNotFoundError(f"Denoiser model file not found: {weights!r}")
        # Inference only: the optimizer and metrics of training are not needed.
        return keras.saving.load_model(weights, compile=False)
    if weights.endswith(".weights.h5"):
        if not os.path.isfile(weights):
            raise FileNotFoundError(f"Denoiser weights file not found: {weights!r}")
        architecture = get_config("nl_dncnn" if config is None else config)
        if channels is not None:
            architecture = architecture.replace(channels=channels)
        model = build_denoiser(architecture)
        _load_weights_file(model, weights)
        return model
    raise ValueError(
        f"Unknown denoiser weights {weights!r}: expected a preset name "
        f"({', '.join(sorted(DENOISER_PRESETS))}), a .keras file or a .weights.h5 file."
    )
