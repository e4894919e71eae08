"""Where a trained non-local block looks: the long-range digits task.

Trains the tuning demo's tiny C2D ResNet with the paper's single block (res4,
embedded Gaussian, spacetime, sub-sampled) on the built-in "same digit?"
clips, then asks the block, for a query at the centre of each digit, how much
of its attention lands on the *other* digit's box (in the other frame). The
task can only be solved by relating the two digits, so a block that learned
it should put far more than the uniform share there. Prints the measured
fractions against that uniform share, and writes the pictures of
docs/attention.md with the `keras-nonlocal attention` command.

    python benchmarks/attention_digits.py --out docs/img
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import keras_tuner  # noqa: E402

from keras_nonlocal import cli  # noqa: E402
from keras_nonlocal.attention import attention_maps  # noqa: E402
from keras_nonlocal.tuning import NonLocalHyperModel  # noqa: E402
from keras_nonlocal.tuning import long_range_digits  # noqa: E402
from keras_nonlocal.tuning.hypermodel import PAPER_SINGLE_BLOCK  # noqa: E402


def train(epochs, seed, stage):
    keras.utils.set_random_seed(seed)
    hypermodel = NonLocalHyperModel("tiny", num_classes=2)
    hp = keras_tuner.HyperParameters()
    hp.values = dict(PAPER_SINGLE_BLOCK, nl_stage=f"res{stage}", **{f"nl_index_res{stage}": 0})
    model = hypermodel.build(hp)
    (x, y, _), (x_val, y_val, layouts) = long_range_digits.load_data(seed=seed, return_layout=True)
    start = time.perf_counter()
    model.fit(x, y, epochs=epochs, batch_size=32, validation_data=(x_val, y_val), verbose=2)
    seconds = time.perf_counter() - start
    accuracy = float(model.evaluate(x_val, y_val, verbose=0)[1])
    return model, x_val, layouts, accuracy, seconds


def _box_mask(keys, extent, frame, corner, size):
    """Keys whose region overlaps the digit's box in its frame."""
    (top, left) = corner
    t, y, x = keys[:, 0], keys[:, 1], keys[:, 2]
    return (
        (t == frame)
        & (y < top + size) & (y + extent[1] > top)
        & (x < left + size) & (x + extent[2] > left)
    )


def other_digit_mass(model, clips, layouts, digit_size=16):
    """Per query (the centre of each digit), the attention mass on the other
    digit's box and on the other digit's frame, with the shares a uniform
    attention would put there."""
    mass, uniform, frame_mass, frame_uniform = [], [], [], []
    for clip, layout in zip(clips, layouts):
        queries = [
            (t, r + digit_size // 2, c + digit_size // 2)
            for t, (r, c) in zip(layout.frames, layout.corners)
        ]
        maps = attention_maps(model, clip[None], queries=queries)
        for i, m in enumerate(maps):
            other = 1 - i
            inside = _box_mask(m.keys, m.key_extent, layout.frames[other], layout.corners[other], digit_size)
            mass.append(float(m.weights[inside].sum()))
            uniform.append(inside.mean())
            in_frame = m.keys[:, 0] == layout.frames[other]
            frame_mass.append(float(m.weights[in_frame].sum()))
            frame_uniform.append(in_frame.mean())
    return tuple(np.asarray(v) for v in (mass, uniform, frame_mass, frame_uniform))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--clips", type=int, default=256, help="validation clips measured")
    parser.add_argument("--stage", type=int, choices=(3, 4), default=4, help="where the block goes (before block 0 of res3 or res4)")
    parser.add_argument("--out", default=None, help="folder for the pictures (e.g. docs/img)")
    args = parser.parse_args(argv)

    model, x_val, layouts, accuracy, seconds = train(args.epochs, args.seed, args.stage)
    mass, uniform, frame_mass, frame_uniform = other_digit_mass(
        model, x_val[: args.clips], layouts[: args.clips]
    )
    block = model.get_layer(f"nonlocal_conv{args.stage}_0")
    print(f"block {block.name}, input {tuple(block.input.shape[1:])}")
    print(f"validation accuracy {accuracy:.3f} after {args.epochs} epochs ({seconds:.0f} s)")
    for what, got, share in (("box", mass, uniform), ("frame", frame_mass, frame_uniform)):
        print(
            f"attention mass on the other digit's {what}: mean {got.mean():.3f}, median "
            f"{np.median(got):.3f} over {got.size} queries; uniform attention: {share.mean():.3f} "
            f"({got.mean() / share.mean():.1f}x)"
        )
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        scratch = os.path.join(args.out, ".scratch")
        os.makedirs(scratch, exist_ok=True)
        model_path = os.path.join(scratch, "digits.keras")
        model.save(model_path)
        # The pictured clip: the one whose two queries' mean mass on the other
        # box is nearest the median of all clips (a typical clip, not the best).
        per_clip = mass.reshape(-1, 2).mean(axis=1)
        index = int(np.argmin(np.abs(per_clip - np.median(per_clip))))
        layout = layouts[index]
        print(f"pictured: validation clip {index} (mass {per_clip[index]:.3f}), digits {layout.classes}")
        clip_path = os.path.join(scratch, "clip.npy")
        np.save(clip_path, x_val[index])
        queries = [f"{t},{r + 8},{c + 8}" for t, (r, c) in zip(layout.frames, layout.corners)]
        for style, name in (("arrows", f"attention_digits_res{args.stage}.png"), ("heat", f"attention_digits_res{args.stage}_heat.png")):
            cli.main([
                "attention", clip_path, "--model", model_path, "--query", *queries,
                "--style", style, "--top-k", "4", "--out", os.path.join(args.out, name), "--overwrite",
            ])
        for f in os.listdir(scratch):
            os.remove(os.path.join(scratch, f))
        os.rmdir(scratch)


if __name__ == "__main__":
    main()
