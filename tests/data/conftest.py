import pytest

from tests.data import videos


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "tfio: needs tensorflow-io to load (runs in the .venv-tfio environment "
        "made by .ci/tfio_env.sh)",
    )


@pytest.fixture(scope="session")
def video_60(tmp_path_factory):
    """60 lossless coded frames of 32x40 pixels."""
    return videos.write_coded_video(tmp_path_factory.mktemp("v") / "v60.mkv", 60)


@pytest.fixture(scope="session")
def video_10(tmp_path_factory):
    """A short video: 10 lossless coded frames."""
    return videos.write_coded_video(tmp_path_factory.mktemp("v") / "v10.mkv", 10)


@pytest.fixture(scope="session")
def corrupt_video(tmp_path_factory):
    path = tmp_path_factory.mktemp("v") / "corrupt.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    return str(path)
