"""Kinetics-400 class names, `decode_predictions` and `preprocess_input`."""

import json
import os

import numpy as np
import pytest

import keras_nonlocal.applications as apps
from keras_nonlocal.applications import decode_predictions
from keras_nonlocal.applications import kinetics400_class_names


def test_the_400_class_names_ship_as_json_in_the_official_order():
    path = os.path.join(os.path.dirname(apps.__file__), "kinetics400_classes.json")
    with open(path) as f:
        names = json.load(f)
    assert names == kinetics400_class_names()
    assert len(names) == len(set(names)) == 400
    assert names == sorted(names)  # the official classids.json is alphabetical
    # spot checks against the official classids.json
    official = {"abseiling": 0, "air drumming": 1, "passing American football (in game)": 208,
                "passing American football (not in game)": 209, "skiing (not slalom or crosscountry)": 308,
                "tying knot (not on a tie)": 369, "zumba": 399, "massaging person's head": 196}
    for name, index in official.items():
        assert names[index] == name


def test_decode_predictions_returns_top_classes_per_sample():
    scores = np.zeros((2, 400), "float32")
    scores[0, [5, 399, 0]] = [0.5, 0.3, 0.2]
    scores[1, 208] = 1.0
    decoded = decode_predictions(scores, top=3)
    assert decoded[0] == [(5, "archery", 0.5), (399, "zumba", pytest.approx(0.3)), (0, "abseiling", pytest.approx(0.2))]
    assert decoded[1][0] == (208, "passing American football (in game)", 1.0)
    assert len(decode_predictions(scores)[0]) == 5


@pytest.mark.parametrize("shape", [(400,), (2, 1000), (1, 2, 400)])
def test_decode_predictions_rejects_other_shapes(shape):
    with pytest.raises(ValueError, match=r"shape \(samples, 400\)"):
        decode_predictions(np.zeros(shape))


def test_preprocess_input_is_the_official_normalisation():
    x = np.array([[0.0, 114.75, 255.0]], "float32")
    np.testing.assert_allclose(apps.preprocess_input(x), (x - 114.75) / 57.375)
    from keras_nonlocal.applications.preprocessing import preprocess_input
    assert apps.preprocess_input is preprocess_input
