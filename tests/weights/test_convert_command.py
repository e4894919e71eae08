"""`keras-nonlocal convert` and `applications/convert_checkpoint.py`."""

import os
import pickle

import numpy as np
import pytest

from keras_nonlocal import cli
from tests.weights import helpers

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_list_prints_every_blob_without_building_a_model(tmp_path, capsys):
    blobs = helpers.small_blobs()
    path = helpers.write_checkpoint(tmp_path / "c.pkl", blobs)
    assert cli.main(["convert", str(path), "--list"]) == 0
    out = capsys.readouterr().out
    assert "conv1_w (8, 3, 3, 3, 3)" in out
    assert f"{len(blobs)} blobs" in out and "solver-state entries skipped" in out


def test_existing_output_is_not_overwritten(tmp_path, capsys):
    path = helpers.write_checkpoint(tmp_path / "c.pkl", helpers.small_blobs())
    out = tmp_path / "out.weights.h5"
    out.write_bytes(b"mine")
    assert cli.main(["convert", str(path), str(out), "--model", "c2d_r50"]) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert out.read_bytes() == b"mine"


def test_unknown_checkpoint_name_is_a_clear_error(capsys):
    assert cli.main(["convert", "i3d_nonlocal_9x9", "x.weights.h5"]) == 1
    assert "neither a file nor an official checkpoint name" in capsys.readouterr().err


def test_malicious_checkpoint_is_refused(tmp_path, capsys):
    path = tmp_path / "evil.pkl"
    path.write_bytes(b"cos\nsystem\n(S'true'\ntR.")
    assert cli.main(["convert", str(path), "--list"]) == 1
    assert "os.system" in capsys.readouterr().err


def test_official_name_is_downloaded_converted_and_reported(server, keras_home, tmp_path, capsys):
    blobs = helpers.official_resnet_blobs(seed=5, arch="c2d")
    with open(server.path("c2d_baseline_8x8_IN_pretrain_400k.pkl"), "wb") as f:
        pickle.dump({"blobs": dict(blobs, lr=np.float32(0.1))}, f, protocol=2)
    out = tmp_path / "c2d.weights.h5"
    status = cli.main(["convert", "c2d_baseline_8x8_IN_pretrain_400k", str(out)])
    text = capsys.readouterr().out
    assert status == 0, text
    assert "c2d_r50 (8x8)" in text
    assert f"Mapped {len(blobs)} blobs" in text and "CC-BY-NC 4.0" in text
    from keras_nonlocal.applications import get_model

    model = get_model("c2d_r50", input_setting="8x8", input_shape=(4, 32, 32, 3))
    model.load_weights(str(out))
    helpers.assert_weights_equal_blobs(model, blobs)
    # The cached file's SHA-256 is recorded beside it, as docs/weights.md says.
    from keras_nonlocal.weights import cache

    cached = cache.cache_path("official", "c2d_baseline_8x8_IN_pretrain_400k.pkl")
    record = cache.read_record(cached)
    assert record["sha256"] == cache.sha256_file(cached)
    assert record["source"] == "c2d_baseline_8x8_IN_pretrain_400k.pkl"


def test_script_is_a_thin_wrapper():
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, os.path.join(ROOT, "applications", "convert_checkpoint.py"), "--help"],
        capture_output=True, text=True, check=True,
    ).stdout
    assert out.startswith("usage: convert_checkpoint.py")
    assert "--overwrite" in out and ".weights.h5" in out
