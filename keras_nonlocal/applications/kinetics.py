"""Kinetics-400 class names and `decode_predictions`.

The class index order is the official one (`process_data/kinetics/classids.json`
of `video-nonlocal-net`), which is the 400 Kinetics class names sorted
alphabetically.
"""

import functools
import json
import os

import numpy as np

_CLASSES_FILE = os.path.join(os.path.dirname(__file__), "kinetics400_classes.json")


@functools.lru_cache(maxsize=1)
def _load_class_names():
    with open(_CLASSES_FILE, encoding="utf-8") as f:
        return tuple(json.load(f))


def kinetics400_class_names():
    """The 400 Kinetics class names, indexed as the official models' outputs.

    Returns:
        A list of 400 strings.

    Example:

    >>> kinetics400_class_names()[0]
    'abseiling'
    """
    return list(_load_class_names())


def decode_predictions(preds, top=5):
    """Decodes the predictions of a Kinetics-400 model.

    Args:
        preds: array-like of shape `(samples, 400)` (probabilities or logits).
        top: how many top guesses to return per sample.

    Returns:
        A list with, per sample, a list of `(class_index, class_name, score)`
        tuples, best first.

    Example:

    >>> import numpy as np
    >>> scores = np.zeros((1, 400)); scores[0, 5] = 1.0
    >>> decode_predictions(scores, top=1)
    [[(5, 'archery', 1.0)]]
    """
    preds = np.asarray(preds)
    names = _load_class_names()
    if preds.ndim != 2 or preds.shape[1] != len(names):
        raise ValueError(
            "`decode_predictions` expects a batch of predictions (i.e. a 2D array "
            f"of shape (samples, {len(names)})). Received array with shape: {preds.shape}"
        )
    if not isinstance(top, int) or top < 1:
        raise ValueError(f"`top` must be an integer >= 1. Received: top={top!r}")
    results = []
    for row in preds:
        best = np.argsort(-row, kind="stable")[:top]
        results.append([(int(i), names[i], float(row[i])) for i in best])
    return results
