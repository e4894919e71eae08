import json

import pytest

from keras_nonlocal.data import sources


def test_list_file_with_class_names_header_and_relative_paths(tmp_path):
    listing = tmp_path / "train.csv"
    listing.write_text("path,label\nrun/a.mp4,run\n# comment\n\nswim/b.mp4,swim\n/abs/c.mp4,run\n")
    videos = sources.from_list_file(listing)
    assert videos.paths == [str(tmp_path / "run/a.mp4"), str(tmp_path / "swim/b.mp4"), "/abs/c.mp4"]
    assert videos.labels == [0, 1, 0]
    assert videos.class_names == ["run", "swim"]


def test_kinetics_style_space_separated_integer_labels(tmp_path):
    listing = tmp_path / "val.txt"
    listing.write_text("x/1.mp4 17\nx/2.mp4 3\n")
    videos = sources.from_list_file(listing, root="/data")
    assert videos.paths == ["/data/x/1.mp4", "/data/x/2.mp4"]
    assert videos.labels == [17, 3]
    assert videos.class_names is None


def test_list_file_unknown_class_names_the_line(tmp_path):
    listing = tmp_path / "l.csv"
    listing.write_text("a.mp4,run\nb.mp4,fly\n")
    with pytest.raises(ValueError, match=r"l.csv:2: unknown class name 'fly'"):
        sources.from_list_file(listing, class_names=["run", "swim"])


def test_list_file_line_without_label(tmp_path):
    listing = tmp_path / "l.csv"
    listing.write_text("a.mp4\n")
    with pytest.raises(ValueError, match="l.csv:1"):
        sources.from_list_file(listing)


def test_class_folders_find_videos_and_frame_folders(tmp_path):
    (tmp_path / "b_swim").mkdir()
    (tmp_path / "a_run").mkdir()
    (tmp_path / "a_run" / "1.mp4").write_bytes(b"")
    (tmp_path / "a_run" / "readme.txt").write_text("")
    frames = tmp_path / "b_swim" / "clip"
    frames.mkdir()
    (frames / "000001.jpg").write_bytes(b"")
    (tmp_path / "b_swim" / "2.h5").write_bytes(b"")
    videos = sources.from_class_folders(tmp_path)
    assert videos.class_names == ["a_run", "b_swim"]
    assert videos.paths == [
        str(tmp_path / "a_run" / "1.mp4"),
        str(tmp_path / "b_swim" / "2.h5"),
        str(frames),
    ]
    assert videos.labels == [0, 1, 1]
    assert sources.as_video_list(str(tmp_path)).paths == videos.paths


def test_load_class_names_from_official_dict_layout(tmp_path):
    path = tmp_path / "classids.json"
    path.write_text(json.dumps({"swim": 1, "run": 0}))
    assert sources.load_class_names(path) == ["run", "swim"]
    path.write_text(json.dumps(["a", "b"]))
    assert sources.load_class_names(path) == ["a", "b"]


def test_as_video_list_accepts_pairs_and_paths():
    assert sources.as_video_list([("a.mp4", 2), ("b.mp4", 0)]).labels == [2, 0]
    assert sources.as_video_list(["a.mp4"]).labels == [-1]
    with pytest.raises(ValueError, match="differ in length"):
        sources.VideoList(["a"], [1, 2])
