import numpy as np
import pytest

from keras_nonlocal.tuning import long_range_digits


@pytest.fixture(scope="module")
def data():
    return long_range_digits.load_data(num_train=64, num_val=32, seed=3, return_layout=True)


def test_shapes_dtypes_and_value_range(data):
    (x, y, _), (x_val, y_val, _) = data
    assert x.shape == (64, 4, 32, 32, 3) and x_val.shape == (32, 4, 32, 32, 3)
    assert x.dtype == np.float32 and y.dtype == np.int32
    assert x.min() >= 0.0 and x.max() <= 1.0


def test_labels_are_balanced_and_mean_same_class(data):
    (_, y, layouts), (_, y_val, val_layouts) = data
    assert y.sum() == 32 and y_val.sum() == 16
    for label, layout in zip(list(y) + list(y_val), layouts + val_layouts):
        assert label == int(layout.classes[0] == layout.classes[1])


def test_digits_are_far_apart_in_time_and_space(data):
    (x, _, layouts), _ = data
    for clip, layout in zip(x, layouts):
        t1, t2 = layout.frames
        assert t1 < 2 <= t2  # first half, second half
        (r1, c1), (r2, c2) = layout.corners
        assert (r1 < 16) != (r2 < 16) and (c1 < 16) != (c2 < 16)  # opposite quadrants
        drawn = [t for t in range(4) if clip[t].any()]
        assert set(drawn) <= {t1, t2}


def test_validation_uses_unseen_handwriting(data):
    (_, _, layouts), (_, _, val_layouts) = data
    train_images = {i for layout in layouts for i in layout.images}
    val_images = {i for layout in val_layouts for i in layout.images}
    assert not train_images & val_images


def test_same_seed_same_data_and_val_set_independent_of_train_size():
    (x1, y1), (v1, w1) = long_range_digits.load_data(num_train=8, num_val=8, seed=5)
    (x2, y2), (v2, w2) = long_range_digits.load_data(num_train=8, num_val=8, seed=5)
    (_, _), (v3, w3) = long_range_digits.load_data(num_train=16, num_val=8, seed=5)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_array_equal(v1, v3)
    np.testing.assert_array_equal(w1, w3)
    (x4, _), _ = long_range_digits.load_data(num_train=8, num_val=8, seed=6)
    assert not np.array_equal(x1, x4)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"frames": 3}, "frames"),
        ({"size": 16}, "size"),
        ({"digit_size": 20}, "digit_size"),
        ({"digits": (1, 1)}, "digits"),
        ({"num_train": 0}, "num_train"),
        ({"val_fraction": 1.5}, "val_fraction"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        long_range_digits.load_data(**kwargs)
