"""Weight presets as data, FLOP counting and the zoo table command."""

import io
import contextlib

import pytest

from keras_nonlocal.applications import NonLocalResNet
from keras_nonlocal.applications import get_model
from keras_nonlocal.applications import list_models
from keras_nonlocal.applications import INPUT_SETTINGS
from keras_nonlocal.applications.flops import count_macs
from keras_nonlocal.applications.zoo_command import format_table
from keras_nonlocal.applications.zoo_command import zoo_rows
from keras_nonlocal.weights import presets
from tests.applications.helpers import tiny_kwargs

SPEC_KINETICS = {
    ("c2d_r50", "32x2"): "c2d_baseline_32x2_IN_pretrain_400k",
    ("nl_c2d_r50", "32x2"): "c2d_nonlocal_32x2_IN_pretrain_400k",
    ("i3d_r50", "32x2"): "i3d_baseline_32x2_IN_pretrain_400k",
    ("nl_i3d_r50", "32x2"): "i3d_nonlocal_32x2_IN_pretrain_400k",
    ("i3d_r50", "128x1"): "i3d_baseline_128x1_I3D_pretrain_400k",
    ("nl_i3d_r50", "128x1"): "i3d_nonlocal_128x1_I3D_pretrain_400k",
    ("c2d_r50", "8x8"): "c2d_baseline_8x8_IN_pretrain_400k",
    ("nl_c2d_r50", "8x8"): "c2d_nonlocal_8x8_IN_pretrain_400k",
    ("i3d_r50", "8x8"): "i3d_baseline_8x8_IN_pretrain_400k",
    ("nl_i3d_r50", "8x8"): "i3d_nonlocal_8x8_IN_pretrain_400k",
    ("i3d_r50", "32x4"): "i3d_baseline_32x4_I3D_pretrain_400k",
    ("nl_i3d_r50", "32x4"): "i3d_nonlocal_32x4_I3D_pretrain_400k",
}


def test_kinetics_presets_name_the_official_checkpoints():
    found = {
        (model, setting): presets.preset_checkpoint(model, "kinetics400", setting).name
        for model in list_models()
        for setting in presets.preset_settings(model)
    }
    assert found == SPEC_KINETICS
    assert presets.preset_checkpoint("nl_i3d_r50", "kinetics400", "128x1").layout == "affine"


def test_every_official_checkpoint_carries_its_input_setting_and_layout():
    for row in presets.OFFICIAL_CHECKPOINTS.values():
        assert row.input_setting in INPUT_SETTINGS
        assert f"_{row.input_setting}_" in row.name
        long_clip = row.input_setting in ("128x1", "32x4")
        assert row.layout == ("affine" if long_clip else "batch_norm"), row.name
        assert row.classes == 400 and len(row.models) == 1
    # The long-clip settings build the official long-clip blocks.
    for name, setting in INPUT_SETTINGS.items():
        long_clip = name in ("128x1", "32x4")
        assert setting.nonlocal_norm == (None if long_clip else "batch_norm")
        assert setting.nonlocal_stage_kwargs() == ({3: {"group_size": 4}} if long_clip else {})


def test_imagenet_presets_name_the_archive_member_by_depth():
    for model in list_models():
        row = presets.preset_checkpoint(model, "imagenet")
        depth = "r101" if "101" in model else "r50"
        assert row.file_name == f"{depth}_pretrain_c2_model_iter450450_clean.pkl"
        assert row.file_name == presets.imagenet_member_for(row.depth)
        assert row.archive == "pretrained_model.tar.gz" and row.classes == 1000


def test_every_preset_model_is_in_the_registry():
    assert {m for row in presets.CHECKPOINTS.values() for m in row.models} <= set(list_models())


def test_flops_count_convolutions_dense_and_nonlocal_by_hand():
    model = NonLocalResNet(**tiny_kwargs(
        depths=(1, 1, 1, 1), widths=(2, 2, 2, 2), stem_filters=2, temporal_pattern="c2d",
        nonlocal_placement={3: (0,)}, input_shape=(2, 32, 32, 3), include_top=True, classes=3))
    expected = 0
    for layer in model.layers:
        if hasattr(layer, "kernel_size"):
            out = layer.output.shape
            positions = out[1] * out[2] * out[3]
            k = layer.kernel_size[0] * layer.kernel_size[1] * layer.kernel_size[2]
            expected += positions * out[-1] * k * layer.input.shape[-1]
    expected += 8 * 3  # pred
    # res3 output (1, 4, 4, 8): inner 4, keys pooled to (1, 2, 2)
    n, m, c, d = 16, 4, 8, 4
    expected += n * c * d + 2 * m * c * d + n * m * 2 * d + n * d * c
    assert count_macs(model) == expected


def test_zoo_rows_measure_params_and_flops_from_the_built_model():
    rows = list(zoo_rows(["resnet50"]))
    assert len(rows) == 1
    model = get_model("resnet50")
    assert rows[0]["params"] == sum(int(w.numpy().size) for w in model.trainable_weights)
    assert rows[0]["gmacs"] == pytest.approx(count_macs(model) / 1e9)
    assert 3.5 < rows[0]["gmacs"] < 4.5  # a ResNet-50 at 224x224 is about 4 G multiply-adds
    table = format_table(rows)
    assert table.splitlines()[0].startswith("| model |") and "resnet50" in table
    assert format_table(rows, "csv").splitlines()[1].startswith("resnet50,224×224,")


def test_zoo_is_a_cli_subcommand():
    from keras_nonlocal.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["zoo", "--models", "resnet50", "--format", "csv"]) == 0
    assert out.getvalue().splitlines()[0].startswith("model,input,params")
    with pytest.raises(SystemExit) as exit_info, contextlib.redirect_stderr(io.StringIO()):
        main(["zoo", "--models", "resnet18"])
    assert exit_info.value.code == 2


def test_the_weights_page_lists_the_presets_table():
    # docs/weights.md's table is written from `presets.CHECKPOINTS`; a drift fails here.
    import os
    import re

    page = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "weights.md")
    rows = {}
    for line in open(page, encoding="utf-8"):
        match = re.match(r"\| `(\w+)` \| `(\w+)` \| (\d+)×(\d+) \| (\w+) \| ([\d.]+) \| ([\d.]+) \|", line)
        if match:
            name, model, frames, rate, layout, top1, top5 = match.groups()
            rows[name] = (model, f"{frames}x{rate}", layout.lower(), float(top1), float(top5))
    expected = {
        row.name: (row.models[0], row.input_setting,
                   "affine" if row.layout == "affine" else "batchnorm", row.top1, row.top5)
        for row in presets.OFFICIAL_CHECKPOINTS.values()
    }
    assert rows == expected
