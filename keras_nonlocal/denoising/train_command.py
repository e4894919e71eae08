"""`keras-nonlocal train-denoiser`: train a denoiser on a folder of images.

Random patches with flips and rotations, Gaussian noise of one level
(`--sigma`) or of a level drawn per patch from [0, 55] (`--blind`), Adam with
a cosine-decaying rate, a progress bar, TensorBoard logs, and a backup after
every epoch: running the same command again with the same `--out` resumes a
killed run from its last epoch. The trained model is `OUT/model.keras` (and
`OUT/model.weights.h5`); `keras-nonlocal denoise --weights OUT/model.keras`
uses it.

Example:

    # sigma = 25 on the 400 BSD training images (the presets' recipe)
    keras-nonlocal train-denoiser --images train400 --sigma 25 --epochs 10 \\
        --clipnorm 200 --out runs/nl_dncnn_sigma25 --val-images val

    # the ablation; the blind model fine-tuned from the sigma = 25 one
    keras-nonlocal train-denoiser --images train400 --sigma 25 --model dncnn --epochs 10 \\
        --clipnorm 200 --out runs/ablation --val-images val
    keras-nonlocal train-denoiser --images train400 --blind --epochs 3 --lr 3e-4 \\
        --initial-weights runs/nl_dncnn_sigma25/best.keras --out runs/blind

    # no --images: the images inside scikit-image's wheel (a quick try)
    keras-nonlocal train-denoiser --sigma 25 --epochs 2 --steps 20 --out runs/try
"""

import json

from keras_nonlocal.command_line import check_input_file
from keras_nonlocal.command_line import check_output_folder
from keras_nonlocal.command_line import echo
from keras_nonlocal.command_line import positive_float


def add_arguments(parser):
    """Adds the `train-denoiser` arguments to an `argparse` parser.

    Args:
        parser: an `argparse.ArgumentParser` (the subcommand's parser).

    Example:

    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> add_arguments(parser)
    >>> args = parser.parse_args(["--sigma", "25", "--out", "runs/a"])
    >>> args.sigma, args.blind, args.model, args.patch_size
    (25.0, False, 'nl_dncnn', 80)
    """
    noise = parser.add_mutually_exclusive_group(required=True)
    noise.add_argument("--sigma", type=float, default=None,
                       help="noise level on the 0-255 scale (a known-sigma model)")
    noise.add_argument("--blind", action="store_true",
                       help="a blind model: sigma drawn per patch from --sigma-range")
    parser.add_argument("--sigma-range", type=float, nargs=2, default=(0.0, 55.0),
                        metavar=("LOW", "HIGH"), help="the blind model's sigma range (default: 0 55)")
    parser.add_argument("--images", default=None,
                        help="folder of clean training images (default: the images inside "
                             "scikit-image's wheel)")
    parser.add_argument("--val-images", default=None,
                        help="folder of clean images scored (PSNR) after every epoch")
    parser.add_argument("--model", default="nl_dncnn",
                        help="architecture: a name of DENOISER_CONFIGS (nl_dncnn, dncnn, ...) "
                             "or a JSON dict of DenoiserConfig fields (default: nl_dncnn)")
    parser.add_argument("--channels", type=int, choices=(1, 3), default=None,
                        help="1 (grayscale) or 3 (RGB); default: the model's")
    parser.add_argument("--epochs", type=int, default=50, help="epochs (default: 50)")
    parser.add_argument("--steps", type=int, default=200,
                        help="batches per epoch; a backup follows each epoch (default: 200)")
    parser.add_argument("--patch-size", type=int, default=80,
                        help="patch side, larger than the blocks' 32-pixel windows (default: 80, "
                             "3x3 windows a patch)")
    parser.add_argument("--batch-size", type=int, default=16, help="patches per batch (default: 16)")
    parser.add_argument("--lr", type=float, default=1e-3, help="initial Adam rate (default: 1e-3)")
    parser.add_argument("--final-lr", type=float, default=1e-5,
                        help="rate at the last step, cosine decay (default: 1e-5)")
    parser.add_argument("--clipnorm", type=positive_float, default=None,
                        help="clip gradients to this global norm (the loss is on the 0-255 "
                             "scale; default: no clipping)")
    parser.add_argument("--initial-weights", default=None,
                        help="start from this .keras or .weights.h5 file (fine-tuning)")
    parser.add_argument("--strategy", default="default", choices=("default", "mirrored", "multi_worker"),
                        help="distribution, as `keras-nonlocal train` (multi_worker reads TF_CONFIG)")
    parser.add_argument("--pipeline", default="auto", choices=("auto", "tf", "numpy"),
                        help="input pipeline (default: tf.data on TensorFlow, NumPy elsewhere)")
    parser.add_argument("--seed", type=int, default=None, help="patch sampling seed")
    parser.add_argument("--out", required=True,
                        help="results folder; the same folder again resumes a killed run")
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2),
                        help="0 silent, 1 progress bar (default), 2 one line per epoch")


def parse_model(text, channels=None):
    """The `--model` argument as a `DenoiserConfig`.

    Args:
        text: a name of `DENOISER_CONFIGS` or a JSON object of fields.
        channels: `--channels`, overriding the config's.

    Returns:
        A `DenoiserConfig`.

    Example:

    >>> parse_model('{"base": "dncnn", "depth": 8}', channels=3).channels
    3
    """
    from keras_nonlocal.denoising.models import get_config

    config = text
    if text.lstrip().startswith("{"):
        try:
            config = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"`--model` is neither a config name nor valid JSON ({e}): {text!r}") from None
    config = get_config(config)
    return config if channels is None else config.replace(channels=channels)


def validate(args):
    """Checks the flags, the image folders and the output before any work.

    Args:
        args: the parsed `argparse.Namespace`.

    Raises:
        ValueError: an unknown `--model` (exit status 2).
        OSError: a missing image folder, an output that cannot be written
            (exit status 1).
    """
    parse_model(args.model, args.channels)
    for flag, path in (("--images", args.images), ("--val-images", args.val_images)):
        if path is not None:
            check_input_file(path, flag, folder_ok=True)
    if args.initial_weights is not None:
        check_input_file(args.initial_weights, "--initial-weights")
    check_output_folder(args.out, "--out")


def run(args):
    """Runs the `train-denoiser` subcommand (after `validate`).

    Args:
        args: the parsed `argparse.Namespace`.

    Returns:
        0 on success.
    """
    from keras_nonlocal.denoising.patches import load_images
    from keras_nonlocal.denoising.training import train_denoiser

    config = parse_model(args.model, args.channels)
    images = load_images(args.images, channels=config.channels)
    val_images = None if args.val_images is None else load_images(args.val_images, config.channels)
    result = train_denoiser(
        images,
        config,
        sigma=None if args.blind else args.sigma,
        sigma_range=tuple(args.sigma_range) if args.blind else None,
        output_dir=args.out,
        epochs=args.epochs,
        steps_per_epoch=args.steps,
        batch_size=args.batch_size,
        patch_size=args.patch_size,
        learning_rate=args.lr,
        final_learning_rate=args.final_lr,
        clipnorm=args.clipnorm,
        initial_weights=args.initial_weights,
        strategy=args.strategy,
        val_images=val_images,
        seed=args.seed,
        pipeline=args.pipeline,
        verbose=args.verbose,
    )
    echo(
        f"trained from step {result.initial_step} to {result.final_step}; "
        f"model in {result.output_dir}/model.keras"
    )
    return 0
