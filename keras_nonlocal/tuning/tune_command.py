"""`keras-nonlocal tune`: search non-local block placement with keras-tuner.

With no arguments it runs the package's demo: a random search of 6 trials
(6 epochs each) over where, how many and which non-local blocks go into a
tiny C2D ResNet, on the built-in long-range digits; the baseline and the
paper's single block are the first two trials. It prints and writes the
leaderboard (`leaderboard.csv`, `leaderboard.md`) and a plot
(`leaderboard.png`) into `results/tune/<project>`. Run it again to resume
(finished trials are kept); raise `--max-trials` to extend the search.
"""

import json
import os
import sys
import time

from keras_nonlocal.command_line import UsageError
from keras_nonlocal.command_line import check_input_file
from keras_nonlocal.command_line import echo
from keras_nonlocal.command_line import fraction
from keras_nonlocal.command_line import positive_float
from keras_nonlocal.command_line import positive_int
from keras_nonlocal.command_line import result_stream
from keras_nonlocal.tuning.backbones import BACKBONES
from keras_nonlocal.tuning.search_space import ATTENTION_AXES
from keras_nonlocal.tuning.search_space import BLOCK_COUNTS
from keras_nonlocal.tuning.search_space import STAGES
from keras_nonlocal.tuning.tuners import TUNERS

_MODES = ("gaussian", "embedded_gaussian", "dot_product", "concatenation")
CONFIG_FILE = "search_config.json"

DEFAULTS = dict(
    tuner="random", max_trials=6, epochs=6, backbone="tiny", learning_rate=1e-2,
    train_samples=1024, val_samples=512, seed=0, directory="results/tune",
)


def add_arguments(parser):
    """Adds the `tune` subcommand's arguments.

    Args:
        parser: an `argparse.ArgumentParser`.
    """
    search = parser.add_argument_group("search")
    search.add_argument("--tuner", choices=tuple(TUNERS), default=DEFAULTS["tuner"],
                        help="search algorithm (default: random)")
    search.add_argument("--objective", default="val_accuracy",
                        help="metric to optimise: val_accuracy, val_loss, accuracy, loss, "
                             "optionally NAME:max or NAME:min (default: val_accuracy)")
    search.add_argument("--max-trials", type=positive_int, default=None,
                        help="trials in total, counting those already done when resuming "
                             f"(default: {DEFAULTS['max_trials']}; hyperband and grid: their "
                             "whole schedule)")
    search.add_argument("--epochs", type=positive_int, default=DEFAULTS["epochs"],
                        help="epochs per trial; hyperband: most epochs per configuration "
                             f"(default: {DEFAULTS['epochs']})")
    search.add_argument("--hyperband-factor", type=int, default=3,
                        help="hyperband's reduction factor (default: 3)")
    search.add_argument("--initial-points", type=positive_int, default=None,
                        help="bayesian: random trials before the Gaussian process (default: 3)")
    search.add_argument("--no-reference-trials", action="store_true",
                        help="do not start with the baseline and the paper's single block")
    search.add_argument("--seed", type=int, default=DEFAULTS["seed"],
                        help="seed of the tuner, the built-in data and the weights (default: 0)")

    space = parser.add_argument_group("search space (default: everything that fits the backbone)")
    space.add_argument("--blocks", nargs="+", choices=BLOCK_COUNTS, metavar="N",
                       help=f"block counts to try, from {' '.join(BLOCK_COUNTS)} (0 = baseline)")
    space.add_argument("--stages", nargs="+", choices=STAGES, metavar="STAGE",
                       help=f"stages that may get blocks, from {' '.join(STAGES)}")
    space.add_argument("--modes", nargs="+", choices=_MODES, metavar="MODE",
                       help=f"pairwise functions, from {' '.join(_MODES)}")
    space.add_argument("--attention-axes", nargs="+", choices=ATTENTION_AXES, metavar="AXES",
                       help=f"attention axes, from {' '.join(ATTENTION_AXES)}")
    space.add_argument("--sub-sample", nargs="+", choices=("on", "off"), metavar="ON_OFF",
                       help="sub-sampling values to try: on, off or both (default: both)")

    model = parser.add_argument_group("model")
    model.add_argument("--backbone", choices=sorted(BACKBONES), default=DEFAULTS["backbone"],
                       help="backbone size: " + "; ".join(f"{k}: {v.description}" for k, v in BACKBONES.items()))
    model.add_argument("--learning-rate", type=positive_float, default=DEFAULTS["learning_rate"],
                       help="Adam learning rate (default: 0.01)")
    model.add_argument("--batch-size", type=positive_int, default=None,
                       help="clips per batch (default: 32 built-in, 8 videos)")

    data = parser.add_argument_group("data (default: the built-in long-range digits)")
    data.add_argument("--data", metavar="LIST", default=None,
                      help="training videos: a path,label list file (keras_nonlocal.data)")
    data.add_argument("--val-data", metavar="LIST", default=None,
                      help="validation videos (default: hold out --val-fraction of --data)")
    data.add_argument("--val-fraction", type=fraction, default=0.2,
                      help="held-out fraction without --val-data (default: 0.2)")
    data.add_argument("--frames", type=positive_int, default=None,
                      help="clip length (videos; default: 8)")
    data.add_argument("--stride", type=positive_int, default=8,
                      help="temporal stride of sampled frames (videos; default: 8)")
    data.add_argument("--crop-size", type=positive_int, default=None,
                      help="square crop side (videos; default: 112)")
    data.add_argument("--train-samples", type=positive_int, default=DEFAULTS["train_samples"],
                      help="built-in training clips (default: 1024)")
    data.add_argument("--val-samples", type=positive_int, default=DEFAULTS["val_samples"],
                      help="built-in validation clips (default: 512)")

    results = parser.add_argument_group("results")
    results.add_argument("--directory", default=DEFAULTS["directory"],
                         help="results folder (default: results/tune)")
    results.add_argument("--project-name", default=None,
                         help="subfolder of the search (default: <backbone>_<data>)")
    results.add_argument("--overwrite", action="store_true",
                         help="delete an earlier search of the same name instead of resuming it")
    results.add_argument("--report-only", action="store_true",
                         help="rewrite the leaderboard and plot of an existing search, do not search")

    run = parser.add_argument_group("running")
    run.add_argument("--distributed", type=positive_int, default=None, metavar="N",
                     help="start a chief and N workers on 127.0.0.1 (keras-tuner's distributed mode)")
    run.add_argument("--port", type=positive_int, default=None,
                     help="the chief's port with --distributed (default: a free one)")
    run.add_argument("--timeout", type=positive_float, default=None,
                     help="with --distributed: seconds before all processes are stopped")
    run.add_argument("--threads", type=positive_int, default=None,
                     help="TensorFlow threads per process (default: all cores)")
    run.add_argument("--verbose", type=int, choices=(0, 1, 2), default=0,
                     help="model.fit verbosity (default: 0; the tuner prints one summary per trial)")


def _space(args):
    from keras_nonlocal.tuning.search_space import SearchSpace

    kwargs = {}
    for name, attr in (("blocks", "blocks"), ("stages", "stages"), ("modes", "modes"),
                       ("attention_axes", "attention_axes")):
        if getattr(args, attr):
            kwargs[name] = tuple(getattr(args, attr))
    if args.sub_sample:
        kwargs["sub_sample"] = tuple(v == "on" for v in args.sub_sample)
    return SearchSpace(**kwargs)


def validate(args):
    """Checks the arguments before anything heavy is imported.

    Args:
        args: parsed arguments.

    Raises:
        ValueError: a bad flag value or combination, naming the flag (exit
            status 2).
        OSError: a list file cannot be read (exit status 1).
    """
    from keras_nonlocal.tuning.tuners import parse_objective

    parse_objective(args.objective)
    if args.tuner == "hyperband" and args.epochs < 2:
        raise ValueError(f"--epochs is hyperband's most epochs per configuration: give >= 2. Received: {args.epochs}")
    if args.hyperband_factor < 2:
        raise ValueError(f"--hyperband-factor must be >= 2. Received: {args.hyperband_factor}")
    if args.data is None:
        for flag, value in (("--val-data", args.val_data), ("--frames", args.frames),
                            ("--crop-size", args.crop_size)):
            if value is not None:
                raise ValueError(f"{flag} applies to videos only: give --data LIST as well.")
        if args.backbone in ("r50", "r101"):
            raise ValueError(
                f"--backbone {args.backbone} is for real videos (--data LIST); the built-in "
                "data uses --backbone tiny or small."
            )
    else:
        check_input_file(args.data, "--data")
        if args.val_data is not None:
            check_input_file(args.val_data, "--val-data")
    if args.port is not None and args.distributed is None:
        raise ValueError("--port applies to --distributed only.")
    if args.distributed is not None and args.report_only:
        raise ValueError("--report-only reads an existing search; it cannot be --distributed.")
    _space(args)


def _project_name(args):
    if args.project_name:
        return args.project_name
    return f"{args.backbone}_{'videos' if args.data else 'digits'}"


def _set_threads(threads):
    if threads:
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:  # TensorFlow already started in this process
            print(f"--threads {threads}: TensorFlow is already running in this process; "
                  "keeping its thread settings.", file=sys.stderr)


def _load_data(args):
    from keras_nonlocal.tuning import inputs

    if args.data:
        return inputs.video_data(
            args.data, args.val_data, val_fraction=args.val_fraction,
            frames=args.frames or 8, stride=args.stride, crop_size=args.crop_size or 112,
            batch_size=args.batch_size or 8, seed=args.seed,
        )
    return inputs.builtin_data(
        num_train=args.train_samples, num_val=args.val_samples, seed=args.seed,
        batch_size=args.batch_size or 32,
    )


def _search_config(args, data, hypermodel):
    return {
        "backbone": hypermodel.backbone.name,
        "input_shape": list(hypermodel.input_shape),
        "num_classes": hypermodel.num_classes,
        "space": hypermodel.space.to_config(),
        "data": data.description,
        "tuner": args.tuner,
        "objective": args.objective,
        "epochs": args.epochs,
        "hyperband_factor": args.hyperband_factor if args.tuner == "hyperband" else None,
        "learning_rate": args.learning_rate,
        "batch_size": data.fit_kwargs.get("batch_size"),
        "seed": args.seed,
        "reference_trials": not args.no_reference_trials,
    }


def check_resume(project_dir, config, overwrite, write=True):
    """Refuses to resume a search that was started with other settings.

    Args:
        project_dir: the search's folder.
        config: this run's settings (a JSON-friendly dict).
        overwrite: whether the search starts over.
        write: record `config` when the folder has none yet.

    Returns:
        `True` when an earlier search is resumed, else `False`.
    """
    path = os.path.join(project_dir, CONFIG_FILE)
    if os.path.exists(path) and not overwrite:
        with open(path, encoding="utf-8") as f:
            saved = json.load(f)
        current = json.loads(json.dumps(config))
        changed = sorted(k for k in set(saved) | set(current) if saved.get(k) != current.get(k))
        if changed:
            details = "; ".join(f"{k}: {saved.get(k)!r} then, {current.get(k)!r} now" for k in changed)
            raise ValueError(
                f"{project_dir} holds a search started with other settings ({details}). "
                "Resume it with the same settings (only --max-trials may change), start over "
                "with --overwrite, or use another --project-name."
            )
        return True
    if write:
        os.makedirs(project_dir, exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(config, f, indent=2)
    return False


def report(project_dir, hypermodel, objective, epochs=None, out=None, title=None):
    """Writes and prints the leaderboard, its summary and the plot.

    Args:
        project_dir: the search's folder (also where the files go).
        hypermodel: the search's `NonLocalHyperModel`.
        objective: a `keras_tuner.Objective`.
        epochs: epochs per trial, for the table.
        out: stream to print to (default: the command's standard output,
            `keras_nonlocal.command_line.result_stream()`).
        title: plot title.

    Returns:
        The leaderboard rows.
    """
    from keras_nonlocal.tuning import leaderboard
    from keras_nonlocal.tuning.plots import plot_leaderboard

    out = out or result_stream()
    rows = leaderboard.leaderboard_rows(leaderboard.load_trials(project_dir), hypermodel, objective, epochs)
    csv_path, md_path = leaderboard.write_leaderboard(rows, project_dir, objective.name)
    png_path = plot_leaderboard(
        rows, os.path.join(project_dir, "leaderboard.png"), objective.name,
        direction=objective.direction, title=title,
    )
    out.write("\n" + leaderboard.format_markdown(rows) + "\n\n")
    done = [r for r in rows if r["rank"] is not None]
    if done:
        out.write(leaderboard.format_summary(leaderboard.summarize(rows), objective.name) + "\n\n")
        baseline = [r for r in done if r["num_blocks"] == 0]
        best = next((r for r in done if r["num_blocks"] > 0), None)
        if baseline:
            out.write(f"baseline (no non-local block): {objective.name} {baseline[0]['score']:.3f}\n")
        if best:
            out.write(
                f"best with non-local blocks: {objective.name} {best['score']:.3f}: "
                f"{best['placement']}, {best['variant']} (trial {best['trial_id']})\n"
            )
    out.write(f"leaderboard: {csv_path}, {md_path}\nplot: {png_path}\n")
    return rows


def _describe(hypermodel, data, args, out):
    resolved = hypermodel.resolved
    out.write(
        f"keras-nonlocal tune: {args.tuner} search, objective {args.objective}, "
        f"{args.epochs} epoch(s) per trial, seed {args.seed}\n"
        f"  data: {data.description.get('kind')}, clips {hypermodel.input_shape}, "
        f"{hypermodel.num_classes} classes\n"
        f"  backbone: {hypermodel.backbone.name} (depths {hypermodel.backbone.depths}); stages "
        f"that can hold blocks: {', '.join(f'res{s}' for s in resolved.stages) or 'none'}\n"
        f"  blocks: {', '.join(resolved.blocks)}; modes: {', '.join(hypermodel.space.modes)}; "
        f"axes: {', '.join(hypermodel.space.attention_axes)}; sub-sample: "
        f"{', '.join('on' if v else 'off' for v in hypermodel.space.sub_sample)}\n"
    )


def run(args):
    """Runs the search (or one role of a distributed search) and reports.

    Args:
        args: parsed arguments.

    Returns:
        The exit status.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    validate(args)  # again when called directly; keras_nonlocal.cli ran it first

    if args.distributed:
        from keras_nonlocal.tuning.distributed import run_local_cluster

        argv = _forwarded_argv(args)
        if args.overwrite:
            import shutil

            shutil.rmtree(os.path.join(args.directory, _project_name(args)), ignore_errors=True)
        # The processes' prefixed output is progress (stderr); the result is
        # the leaderboard the chief wrote.
        status = run_local_cluster(argv, args.distributed, port=args.port, timeout=args.timeout)
        board = os.path.join(args.directory, _project_name(args), "leaderboard.md")
        if status == 0 and os.path.isfile(board):
            with open(board, encoding="utf-8") as f:
                echo(f.read().rstrip() + f"\nleaderboard: {board}")
        return status

    from keras_nonlocal.tuning.distributed import role

    this_role = role()
    _set_threads(args.threads)
    import keras

    from keras_nonlocal.tuning.hypermodel import NonLocalHyperModel
    from keras_nonlocal.tuning.tuners import make_tuner
    from keras_nonlocal.tuning.tuners import parse_objective

    keras.utils.set_random_seed(args.seed)
    data = _load_data(args)
    try:
        hypermodel = NonLocalHyperModel(
            args.backbone, num_classes=data.num_classes, input_shape=data.input_shape,
            space=_space(args), learning_rate=args.learning_rate,
            initial_values=() if args.no_reference_trials else None,
        )
    except ValueError as error:  # the search space does not fit the backbone or clips
        raise UsageError(str(error)) from error
    project_dir = os.path.join(args.directory, _project_name(args))
    objective = parse_objective(args.objective)
    # Only the process that owns the oracle may clear the folder.
    overwrite = args.overwrite and this_role != "worker"
    if args.overwrite and this_role == "worker":
        print("--overwrite is ignored on a worker (only the chief clears the results folder).",
              file=sys.stderr)
    config = _search_config(args, data, hypermodel)
    try:
        resumed = check_resume(project_dir, config, overwrite, write=False)
    except ValueError as error:
        raise UsageError(str(error)) from error
    title = (f"{args.tuner} search, {hypermodel.backbone.name} backbone, "
             f"{data.description.get('kind')}, {args.epochs} epoch(s)/trial, seed {args.seed}")
    if args.report_only:
        if not resumed:
            raise FileNotFoundError(
                f"--report-only: no search in {project_dir}; run the search first (check "
                "--directory and --project-name)"
            )
        report(project_dir, hypermodel, objective, args.epochs, title=title)
        return 0

    if this_role != "worker":
        _describe(hypermodel, data, args, sys.stderr)
        if resumed:
            print(f"  resuming the search in {project_dir} (finished trials are kept)", file=sys.stderr)
    max_trials = args.max_trials
    if max_trials is None and args.tuner in ("random", "bayesian"):
        max_trials = DEFAULTS["max_trials"]
    tuner = make_tuner(
        hypermodel, args.tuner, objective=objective, max_trials=max_trials, max_epochs=args.epochs,
        directory=args.directory, project_name=_project_name(args),
        overwrite=overwrite, seed=args.seed,
        hyperband_factor=args.hyperband_factor, initial_points=args.initial_points,
    )
    if this_role != "worker":  # after the tuner, which clears the folder on --overwrite
        check_resume(project_dir, config, overwrite=True, write=True)
    start = time.perf_counter()
    tuner.search(*data.fit_args, epochs=args.epochs, verbose=args.verbose, **data.fit_kwargs)
    if this_role == "worker":
        print(f"worker {os.environ.get('KERASTUNER_TUNER_ID')} done in {time.perf_counter() - start:.0f} s",
              file=sys.stderr)
        return 0
    report(project_dir, hypermodel, objective, args.epochs, title=title)
    echo(f"search time: {time.perf_counter() - start:.0f} s")
    return 0


def _forwarded_argv(args):
    """The command line of the chief and workers: these arguments, minus the launcher's."""
    argv = []
    for dest, flag in (
        ("tuner", "--tuner"), ("objective", "--objective"), ("max_trials", "--max-trials"),
        ("epochs", "--epochs"), ("hyperband_factor", "--hyperband-factor"),
        ("initial_points", "--initial-points"), ("seed", "--seed"), ("backbone", "--backbone"),
        ("learning_rate", "--learning-rate"), ("batch_size", "--batch-size"), ("data", "--data"),
        ("val_data", "--val-data"), ("val_fraction", "--val-fraction"), ("frames", "--frames"),
        ("stride", "--stride"), ("crop_size", "--crop-size"), ("train_samples", "--train-samples"),
        ("val_samples", "--val-samples"), ("directory", "--directory"),
        ("project_name", "--project-name"), ("threads", "--threads"), ("verbose", "--verbose"),
    ):
        value = getattr(args, dest)
        if value is not None:
            argv += [flag, str(value)]
    for dest, flag in (("blocks", "--blocks"), ("stages", "--stages"), ("modes", "--modes"),
                       ("attention_axes", "--attention-axes"), ("sub_sample", "--sub-sample")):
        if getattr(args, dest):
            argv += [flag, *getattr(args, dest)]
    if args.no_reference_trials:
        argv.append("--no-reference-trials")
    return argv
