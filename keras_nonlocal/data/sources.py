"""Where the videos are: list files, class folders, plain paths.

Every source becomes a `VideoList`: parallel lists of paths and integer
labels, plus the class names when they are known. A path may be a video file,
a folder of frame images, or an HDF5 file of pre-decoded frames (see
`keras_nonlocal.data.decoding.read_frames`).
"""

import csv
import dataclasses
import json
import os

from keras_nonlocal.data.decoding import HDF5_EXTENSIONS
from keras_nonlocal.data.decoding import IMAGE_EXTENSIONS
from keras_nonlocal.data.decoding import VIDEO_EXTENSIONS

_HEADER_LABELS = ("label", "labels", "class", "class_name", "category")


@dataclasses.dataclass
class VideoList:
    """Videos and their labels.

    Args:
        paths: list of video paths (files, frame folders or HDF5 files).
        labels: list of int labels, one per path (-1 when unknown).
        class_names: list of class names indexed by label, or None.

    Example:

    >>> videos = VideoList(["a.mp4", "b.mp4"], [0, 1], ["run", "swim"])
    >>> len(videos), videos.num_classes
    (2, 2)
    """

    paths: list
    labels: list
    class_names: list = None

    def __post_init__(self):
        self.paths = [os.fspath(p) for p in self.paths]
        self.labels = [int(v) for v in self.labels]
        if len(self.paths) != len(self.labels):
            raise ValueError(
                f"`paths` and `labels` differ in length: {len(self.paths)} "
                f"paths, {len(self.labels)} labels."
            )

    def __len__(self):
        return len(self.paths)

    @property
    def num_classes(self):
        """Number of classes: `len(class_names)`, or 1 + the largest label."""
        if self.class_names is not None:
            return len(self.class_names)
        return max(self.labels, default=-1) + 1


def load_class_names(path):
    """Reads class names from a JSON file or a text file.

    JSON may be a list of names, or a dict mapping names to ids (the official
    `classids.json` layout) or ids to names. A text file holds one name per
    line.

    Args:
        path: path to the `.json` or text file.

    Returns:
        A list of class names indexed by label.

    Example:

    >>> names = load_class_names("classids.json")  # doctest: +SKIP
    """
    with open(path, encoding="utf-8") as f:
        if os.fspath(path).lower().endswith(".json"):
            data = json.load(f)
        else:
            return [line.strip() for line in f if line.strip()]
    if isinstance(data, list):
        return [str(name) for name in data]
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON list or dict of class names.")
    items = list(data.items())
    if all(_is_int(v) for _, v in items):
        by_id = {int(v): str(k) for k, v in items}
    elif all(_is_int(k) for k, _ in items):
        by_id = {int(k): str(v) for k, v in items}
    else:
        raise ValueError(f"{path}: a dict of class names needs integer ids.")
    if sorted(by_id) != list(range(len(by_id))):
        raise ValueError(f"{path}: class ids must be 0..{len(by_id) - 1}.")
    return [by_id[i] for i in range(len(by_id))]


def _is_int(value):
    try:
        int(value)
    except (TypeError, ValueError):
        return False
    return not isinstance(value, float) or float(value).is_integer()


def _split_line(line, delimiter):
    if delimiter is None:
        delimiter = "," if "," in line else None
    if delimiter == ",":
        return [field.strip() for field in next(csv.reader([line]))]
    return line.split(delimiter)


def from_list_file(path, root=None, class_names=None, delimiter=None):
    """Reads a Kinetics-style list of `path,label` (or `path label`) lines.

    Labels may be integer ids or class names. Empty lines and lines starting
    with `#` are ignored, and so is a header line whose label field is a word
    like `label`. Relative paths are taken relative to `root`.

    Args:
        path: the list file (`.csv` or `.txt`).
        root: folder that relative video paths start from. Defaults to the
            list file's folder.
        class_names: optional list of class names (or a path for
            `load_class_names`) that maps named labels to ids. Without it,
            named labels get ids in sorted name order.
        delimiter: field separator; by default a comma when the line has one,
            otherwise whitespace.

    Returns:
        A `VideoList`.

    Example:

    >>> videos = from_list_file("kinetics_train.csv", root="/data/kinetics")  # doctest: +SKIP
    """
    if isinstance(class_names, (str, os.PathLike)):
        class_names = load_class_names(class_names)
    root = os.path.dirname(os.path.abspath(path)) if root is None else root
    rows = []
    with open(path, encoding="utf-8") as f:
        for line_number, line in enumerate(f, start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            fields = _split_line(line, delimiter)
            if len(fields) < 2:
                raise ValueError(
                    f"{path}:{line_number}: expected 'path,label', got {line!r}"
                )
            video, label = fields[0], fields[1]
            if not rows and label.lower() in _HEADER_LABELS:
                continue
            rows.append((os.path.join(root, video), label, line_number))

    if class_names is None and not all(_is_int(label) for _, label, _ in rows):
        class_names = sorted({label for _, label, _ in rows})
    index = {name: i for i, name in enumerate(class_names or [])}
    labels = []
    for _, label, line_number in rows:
        if _is_int(label):
            labels.append(int(label))
        elif label in index:
            labels.append(index[label])
        else:
            raise ValueError(
                f"{path}:{line_number}: unknown class name {label!r}; it is "
                "not in `class_names`."
            )
    return VideoList([r[0] for r in rows], labels, class_names)


def _is_frame_folder(path):
    try:
        return any(n.lower().endswith(IMAGE_EXTENSIONS) for n in os.listdir(path))
    except OSError:
        return False


def from_class_folders(root, extensions=VIDEO_EXTENSIONS + HDF5_EXTENSIONS):
    """Reads a folder with one sub-folder per class.

    Inside a class folder, each file with one of `extensions` is a video, and
    each sub-folder holding images is a video stored as frame images. Classes
    get ids in sorted folder-name order.

    Args:
        root: folder of class folders, e.g. `train/abseiling/xyz.mp4`.
        extensions: file endings counted as videos (lower case).

    Returns:
        A `VideoList` with `class_names` set to the folder names.

    Example:

    >>> videos = from_class_folders("/data/kinetics/train")  # doctest: +SKIP
    """
    if not os.path.isdir(root):
        raise ValueError(f"`root` must be a folder of class folders. Received: {root!r}")
    class_names = sorted(
        n for n in os.listdir(root) if os.path.isdir(os.path.join(root, n))
    )
    if not class_names:
        raise ValueError(f"{root}: no class folders found.")
    paths, labels = [], []
    for label, name in enumerate(class_names):
        folder = os.path.join(root, name)
        for entry in sorted(os.listdir(folder)):
            full = os.path.join(folder, entry)
            is_video = os.path.isfile(full) and entry.lower().endswith(extensions)
            if is_video or (os.path.isdir(full) and _is_frame_folder(full)):
                paths.append(full)
                labels.append(label)
    return VideoList(paths, labels, class_names)


def from_paths(paths, labels=None, class_names=None):
    """Wraps plain paths (files, frame folders, HDF5 files) as a `VideoList`.

    Args:
        paths: list of paths.
        labels: list of int labels, or None for unlabelled videos (-1).
        class_names: optional list of class names.

    Returns:
        A `VideoList`.

    Example:

    >>> from_paths(["a.mp4"]).labels
    [-1]
    """
    paths = [os.fspath(p) for p in paths]
    labels = [-1] * len(paths) if labels is None else list(labels)
    return VideoList(paths, labels, class_names)


def as_video_list(source):
    """Turns any supported source description into a `VideoList`.

    Args:
        source: a `VideoList`; a list/CSV file of `path,label` lines; a folder
            of class folders; a single video path; or a list of paths or of
            `(path, label)` pairs.

    Returns:
        A `VideoList`.

    Example:

    >>> as_video_list([("a.mp4", 3)]).labels
    [3]
    """
    if isinstance(source, VideoList):
        return source
    if isinstance(source, (str, os.PathLike)):
        source = os.fspath(source)
        if os.path.isdir(source):
            if _is_frame_folder(source):
                return from_paths([source])
            return from_class_folders(source)
        if source.lower().endswith((".csv", ".txt", ".lst", ".list")):
            return from_list_file(source)
        return from_paths([source])
    items = list(source)
    if items and isinstance(items[0], (tuple, list)):
        return VideoList([p for p, _ in items], [label for _, label in items])
    return from_paths(items)
