"""`load_weights`: presets, official names, paths and URLs, through the cache."""

import hashlib
import os
import pickle

import numpy as np
import pytest

from keras_nonlocal.weights import CheckpointMismatchError
from keras_nonlocal.weights import UnsafePickleError
from keras_nonlocal.weights import WeightsDownloadError
from keras_nonlocal.weights import cache_root
from keras_nonlocal.weights import convert_checkpoint
from keras_nonlocal.weights import load_weights
from keras_nonlocal.weights import validate_weights_argument
from tests.weights import helpers

NAME = "i3d_nonlocal_8x8_IN_pretrain_400k"
FILE = NAME + ".pkl"


def _serve_small(server, affine=False, name=FILE, seed=0):
    blobs = helpers.small_blobs(seed=seed, affine=affine)
    helpers.write_checkpoint(server.path(name), blobs)
    return blobs


def _clip(seed=1):
    return np.random.default_rng(seed).standard_normal((2,) + helpers.SMALL_INPUT).astype(np.float32)


def _check(model, blobs, include_top=True):
    skip = () if include_top else (r"pred_",)
    helpers.assert_weights_equal_blobs(model, blobs, skip=skip)
    x = _clip()
    np.testing.assert_allclose(
        model.predict(x, verbose=0), helpers.np_small_forward(blobs, x, include_top),
        rtol=1e-4, atol=1e-4,
    )


def _official_path(name=FILE):
    return os.path.join(cache_root(), "official", name)


def _converted_files():
    directory = os.path.join(cache_root(), "converted")
    return sorted(f for f in os.listdir(directory) if f.endswith(".weights.h5"))


def test_kinetics400_downloads_converts_and_matches_the_blobs(server, keras_home):
    blobs = _serve_small(server)
    model = helpers.small_model()
    load_weights(model, "kinetics400", checkpoint=NAME, progress=False)
    _check(model, blobs)
    assert server.count(FILE) == 1
    record = helpers.file_paths(os.path.join(cache_root(), "official"))
    assert record == [_official_path(), _official_path() + ".json"]
    assert len(_converted_files()) == 1


def test_kinetics400_chooses_the_file_from_the_presets(server, keras_home):
    blobs = _serve_small(server, name="i3d_nonlocal_32x2_IN_pretrain_400k.pkl")
    model = helpers.small_model()
    load_weights(model, "kinetics400", model_name="nl_i3d_r50", input_setting="32x2",
                 progress=False)
    _check(model, blobs)


def test_an_official_checkpoint_name_is_a_valid_weights_value(server, keras_home):
    blobs = _serve_small(server)
    model = helpers.small_model()
    load_weights(model, NAME, progress=False)
    _check(model, blobs)


def test_second_load_makes_no_request(server, keras_home):
    blobs = _serve_small(server)
    load_weights(helpers.small_model(), NAME, progress=False)
    os.remove(server.path(FILE))  # the server could not deliver it again
    model = helpers.small_model()
    load_weights(model, NAME, progress=False)
    _check(model, blobs)
    assert server.count() == 1


def test_corrupted_cached_checkpoint_is_detected_and_refetched(server, keras_home):
    blobs = _serve_small(server)
    load_weights(helpers.small_model(), NAME, progress=False)
    for converted in _converted_files():
        os.remove(os.path.join(cache_root(), "converted", converted))
    with open(_official_path(), "r+b") as f:
        f.seek(200)
        f.write(b"\x00" * 16)
    model = helpers.small_model()
    with pytest.warns(UserWarning, match="does not match its recorded SHA-256"):
        load_weights(model, NAME, progress=False)
    _check(model, blobs)
    assert server.count(FILE) == 2


def test_truncated_cached_checkpoint_without_record_is_refetched(server, keras_home):
    blobs = _serve_small(server)
    os.makedirs(os.path.dirname(_official_path()))
    data = open(server.path(FILE), "rb").read()
    with open(_official_path(), "wb") as f:
        f.write(data[: len(data) // 3])  # e.g. copied by hand, incompletely
    model = helpers.small_model()
    with pytest.warns(UserWarning, match="could not be read"):
        load_weights(model, NAME, progress=False)
    _check(model, blobs)
    assert server.count(FILE) == 1


def test_corrupted_converted_file_is_reconverted(server, keras_home):
    blobs = _serve_small(server)
    load_weights(helpers.small_model(), NAME, progress=False)
    (converted,) = _converted_files()
    with open(os.path.join(cache_root(), "converted", converted), "r+b") as f:
        f.seek(-64, os.SEEK_END)
        f.write(b"\xff" * 64)
    model = helpers.small_model()
    with pytest.warns(UserWarning, match="corrupted converted file"):
        load_weights(model, NAME, progress=False)
    _check(model, blobs)
    assert server.count(FILE) == 1  # the cached .pkl was still intact


def test_interrupted_download_leaves_no_file_in_the_cache(server, keras_home):
    _serve_small(server)
    server.broken.add(FILE)
    with pytest.raises(WeightsDownloadError, match="transfer interrupted"):
        load_weights(helpers.small_model(), NAME, progress=False)
    assert helpers.file_paths(keras_home) == []


def test_unreachable_hosts_give_the_urls_and_the_manual_path(keras_home, dead_url, monkeypatch):
    monkeypatch.setenv("KERAS_NONLOCAL_WEIGHTS_BASE_URLS", f"{dead_url} {dead_url}mirror/")
    with pytest.raises(WeightsDownloadError) as info:
        load_weights(helpers.small_model(), NAME, progress=False)
    message = str(info.value)
    assert f"{dead_url}{FILE}" in message and f"{dead_url}mirror/{FILE}" in message
    assert _official_path() in message
    assert f'weights="/path/to/{FILE}"' in message


def test_file_placed_by_hand_is_used_without_download(keras_home, dead_url, monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_NONLOCAL_WEIGHTS_BASE_URLS", dead_url)
    blobs = helpers.small_blobs()
    os.makedirs(os.path.dirname(_official_path()))
    helpers.write_checkpoint(_official_path(), blobs)
    model = helpers.small_model()
    load_weights(model, NAME, progress=False)
    _check(model, blobs)


def test_long_clip_checkpoint_loads_strictly_into_its_architecture(server, keras_home):
    # Backbone `_s`/`_b` only, the block without `_bn_*` blobs (official layout).
    name = "i3d_nonlocal_32x4_I3D_pretrain_400k"
    blobs = helpers.small_blobs(affine=True, nonlocal_norm=None)
    helpers.write_checkpoint(server.path(name + ".pkl"), blobs)
    model = helpers.small_model(nonlocal_norm="none")
    load_weights(model, name, input_setting="32x4", progress=False)
    _check(model, blobs)


def test_a_checkpoint_of_another_input_setting_is_refused_naming_both(keras_home, tmp_path):
    model = helpers.small_model()
    with pytest.raises(ValueError, match=r"checkpoint of the '32x4' input setting.*input_setting='8x8'"):
        load_weights(model, "i3d_nonlocal_32x4_I3D_pretrain_400k", input_setting="8x8")
    # A file keeps its official name when downloaded by hand: still refused.
    path = helpers.write_checkpoint(tmp_path / "i3d_nonlocal_8x8_IN_pretrain_400k.pkl",
                                    helpers.small_blobs())
    with pytest.raises(ValueError, match=r"'8x8' input setting.*input_setting='32x2'"):
        load_weights(model, str(path), input_setting="32x2")
    load_weights(model, str(path), input_setting="8x8")
    assert not os.path.exists(cache_root())  # refused before anything was fetched


def test_kinetics400_needs_the_models_input_setting(keras_home):
    # Nothing is inferred from the model (its frames do not tell 8x8 from 32x4).
    with pytest.raises(ValueError, match="needs the input setting"):
        load_weights(helpers.small_model(), "kinetics400", model_name="nl_i3d_r50")


def test_include_top_false_loads_the_backbone_only(server, keras_home):
    blobs = _serve_small(server)
    model = helpers.small_model(include_top=False)
    load_weights(model, "kinetics400", checkpoint=NAME, include_top=False, classes=7,
                 progress=False)
    _check(model, blobs, include_top=False)


def test_kinetics400_with_other_classes_and_top_raises_keras_error(keras_home):
    with pytest.raises(ValueError, match=r'If using `weights="kinetics400"` with `include_top=True`, `classes` should be 400'):
        load_weights(helpers.small_model(classes=10), "kinetics400", checkpoint=NAME, classes=10)
    with pytest.raises(ValueError, match="`classes` should be 400"):
        validate_weights_argument("kinetics400", include_top=True, classes=10,
                                  model_name="nl_i3d_r50", input_setting="8x8")
    row = validate_weights_argument("kinetics400", include_top=False, classes=10,
                                    model_name="nl_i3d_r50", input_setting="8x8")
    assert row.name == NAME


def test_wrong_checkpoint_for_the_model_names_the_blobs(server, keras_home):
    blobs = helpers.small_blobs()
    del blobs["nonlocal_conv2_0_theta_w"]
    helpers.write_checkpoint(server.path(FILE), blobs)
    with pytest.raises(CheckpointMismatchError, match="nonlocal_conv2_0_theta_w expected"):
        load_weights(helpers.small_model(), NAME, progress=False)
    assert not os.path.exists(_official_path() + ".json")  # never trusted


def test_malicious_checkpoint_is_refused_through_weights(server, keras_home, tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    with open(server.path(FILE), "wb") as f:
        pickle.dump({"blobs": {"conv1_w": Evil()}}, f, protocol=2)
    with pytest.raises(UnsafePickleError, match="system"):
        load_weights(helpers.small_model(), NAME, progress=False)
    assert not marker.exists()


def test_local_keras_weights_file(tmp_path, keras_home):
    source = helpers.small_model()
    path = str(tmp_path / "mine.weights.h5")
    source.save_weights(path)
    model = helpers.small_model()
    load_weights(model, path)
    for a, b in zip(source.weights, model.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_local_official_pkl(tmp_path, keras_home):
    blobs = helpers.small_blobs(seed=3)
    path = helpers.write_checkpoint(tmp_path / "c.pkl", blobs)
    model = helpers.small_model()
    load_weights(model, str(path))
    _check(model, blobs)
    assert not os.path.exists(cache_root())  # nothing cached for local files


def test_url_to_keras_weights_is_cached_and_verified(server, keras_home):
    source = helpers.small_model()
    source.save_weights(server.path("nl.weights.h5"))
    url = server.base_url + "nl.weights.h5"
    digest = hashlib.sha256(open(server.path("nl.weights.h5"), "rb").read()).hexdigest()
    model = helpers.small_model()
    load_weights(model, url, file_hash=digest, progress=False)
    load_weights(helpers.small_model(), url, progress=False)
    assert server.count() == 1
    for a, b in zip(source.weights, model.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    (cached,) = [p for p in helpers.file_paths(cache_root()) if p.endswith(".h5")]
    with open(cached, "r+b") as f:
        f.write(b"garbage")
    with pytest.warns(UserWarning, match="corrupted"):
        load_weights(helpers.small_model(), url, progress=False)
    assert server.count() == 2


def test_url_with_wrong_hash_is_refused(server, keras_home):
    helpers.small_model().save_weights(server.path("nl.weights.h5"))
    with pytest.raises(WeightsDownloadError, match="SHA-256 mismatch"):
        load_weights(helpers.small_model(), server.base_url + "nl.weights.h5",
                     file_hash="0" * 64, progress=False)
    assert helpers.file_paths(keras_home) == []


def test_imagenet_comes_from_the_tarball_inflated(server, keras_home):
    blobs2d = helpers.small_blobs(image=True, classes=1000)
    data = pickle.dumps({"blobs": helpers.with_solver_state(blobs2d)}, protocol=2)
    helpers.write_tarball(
        server.path("pretrained_model.tar.gz"),
        {"r50_pretrain_c2_model_iter450450_clean.pkl": data, "r101_other.pkl": b"-"},
    )
    model = helpers.small_model(classes=1000)
    load_weights(model, "imagenet", model_name="nl_i3d_r50", classes=1000, progress=False)
    conv = np.asarray(model.get_layer("conv1").kernel)
    np.testing.assert_allclose(conv.sum(axis=0), np.transpose(blobs2d["conv1_w"], (2, 3, 1, 0)), rtol=1e-5)
    np.testing.assert_array_equal(np.asarray(model.get_layer("pred").kernel), blobs2d["pred_w"].T)
    assert not np.any(np.asarray(model.get_layer("nonlocal_conv2_0").bn.gamma))
    # A second load reads the extracted member: no request.
    load_weights(helpers.small_model(classes=1000), "imagenet", model_name="nl_i3d_r50", progress=False)
    assert server.count() == 1


def test_imagenet_with_another_head_initialises_the_backbone(server, keras_home):
    blobs2d = helpers.small_blobs(image=True, classes=1000)
    data = pickle.dumps({"blobs": blobs2d}, protocol=2)
    helpers.write_tarball(server.path("pretrained_model.tar.gz"),
                          {"r50_pretrain_c2_model_iter450450_clean.pkl": data})
    model = helpers.small_model(classes=5)
    before = np.asarray(model.get_layer("pred").kernel)
    load_weights(model, "imagenet", model_name="nl_i3d_r50", progress=False)
    np.testing.assert_array_equal(np.asarray(model.get_layer("pred").kernel), before)
    helpers.assert_weights_equal_blobs(
        model, {k: v for k, v in blobs2d.items() if k.startswith("res2_0_branch2c_bn")}
    )


@pytest.mark.parametrize("weights", [3, "no/such/file.weights.h5", "imagenet21k"])
def test_bad_weights_values_are_rejected_early(weights, keras_home):
    with pytest.raises(ValueError, match="The `weights` argument should be"):
        load_weights(helpers.small_model(), weights)


def test_convert_checkpoint_refuses_to_overwrite(tmp_path):
    blobs = helpers.small_blobs()
    pkl = helpers.write_checkpoint(tmp_path / "c.pkl", blobs)
    out = tmp_path / "c.weights.h5"
    out.write_bytes(b"mine")
    with pytest.raises(FileExistsError, match="overwrite"):
        convert_checkpoint(helpers.small_model(), pkl, out)
    assert out.read_bytes() == b"mine"
    report = convert_checkpoint(helpers.small_model(), pkl, out, overwrite=True)
    assert report.ok
    model = helpers.small_model()
    model.load_weights(str(out))
    _check(model, blobs)
