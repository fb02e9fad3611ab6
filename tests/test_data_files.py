"""Fast tier: the pinned handwriting download and user data files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from eprop.data import files as data
from eprop.errors import UserError


def test_handwriting_file_is_taken_from_EPROP_DATA_DIR(monkeypatch, tmp_path, handwriting_file):
    monkeypatch.setenv("EPROP_DATA_DIR", str(handwriting_file.parent))
    monkeypatch.setenv("EPROP_CACHE_DIR", str(tmp_path))
    assert data.handwriting_file() == handwriting_file
    assert data._sha256(handwriting_file) == data.HANDWRITING_SHA256


def test_a_copy_with_the_wrong_hash_is_refused(monkeypatch, tmp_path):
    (tmp_path / data.HANDWRITING_FILE).write_text("1 2\n3 4\n")
    monkeypatch.setenv("EPROP_DATA_DIR", str(tmp_path))
    with pytest.raises(UserError, match=r"sha256 does not match the pinned 12f2336b2d98"):
        data.handwriting_file()


def test_no_network_and_no_copy_says_where_to_put_the_file(monkeypatch, tmp_path):
    import pooch

    def offline(*args, **kwargs):
        raise ConnectionError("no network")

    monkeypatch.delenv("EPROP_DATA_DIR", raising=False)
    monkeypatch.setenv("EPROP_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(pooch, "retrieve", offline)
    with pytest.raises(UserError) as info:
        data.handwriting_file()
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(
        f"chaos_handwriting.txt: not found and the download failed (ConnectionError); put the file in {tmp_path}"
    )
    assert data.HANDWRITING_URL in message


def test_the_download_is_pinned_by_url_and_hash(monkeypatch, tmp_path, handwriting_file):
    import pooch

    calls = {}

    def fake_retrieve(url, known_hash, fname, path, progressbar):
        calls.update(url=url, known_hash=known_hash, fname=fname, path=path)
        return str(handwriting_file)

    monkeypatch.delenv("EPROP_DATA_DIR", raising=False)
    monkeypatch.setenv("EPROP_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(pooch, "retrieve", fake_retrieve)
    assert data.handwriting_file() == handwriting_file
    assert calls == {
        "url": data.HANDWRITING_URL,
        "known_hash": "sha256:" + data.HANDWRITING_SHA256,
        "fname": "chaos_handwriting.txt",
        "path": tmp_path,
    }


BAD_FILES = [
    ("missing", None, "task.data_file={path}: no such file"),
    ("empty", "", "task.data_file={path}: empty file; expected two or more numeric columns"),
    ("words", "a b\nc d\n", "task.data_file={path}: not numeric; expected two or more numeric columns"),
    ("single", "1\n2\n3\n", "task.data_file={path}: has 1 column; expected two or more numeric columns"),
    ("nan", "1 2\nnan 3\n", "task.data_file={path}: contains NaN or infinite values"),
    (
        "ragged",
        "1 2\n3\n",
        "task.data_file={path}: rows have different numbers of columns ([1, 2]); expected one column per output",
    ),
]


@pytest.mark.parametrize("name,content,message", BAD_FILES)
def test_bad_data_files(tmp_path, name, content, message):
    path = tmp_path / f"{name}.txt"
    if content is not None:
        path.write_text(content)
    with pytest.raises(UserError) as info:
        data.load_trajectory(path)
    assert str(info.value) == message.format(path=path)


def test_comma_and_whitespace_files_load_alike(tmp_path, handwriting_file):
    comma = tmp_path / "comma.csv"
    comma.write_text("0.5, -1\n2,3e-1\n# a comment\n\n")
    assert np.array_equal(data.load_trajectory(comma), [[0.5, -1.0], [2.0, 0.3]])
    assert np.array_equal(data.load_trajectory(handwriting_file), np.loadtxt(handwriting_file))


def test_cli_without_data_and_network_prints_one_line(tmp_path):
    """`eprop run` offline with no copy: one line saying where to put the file, exit 2."""
    from .conftest import run_eprop_in_process

    env = dict(
        EPROP_DATA_DIR=str(tmp_path / "none"),
        EPROP_CACHE_DIR=str(tmp_path / "cache"),
        HTTPS_PROXY="http://127.0.0.1:9",
        HTTP_PROXY="http://127.0.0.1:9",
        PYNEST_QUIET="1",
    )
    proc = run_eprop_in_process("run", f"hydra.run.dir={tmp_path / 'run'}", check=False, env=env)
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("eprop: error: chaos_handwriting.txt: not found and the download failed (")
    assert f"put the file in {tmp_path / 'cache'} or point EPROP_DATA_DIR at a folder holding it" in line
    assert not (tmp_path / "run" / "results.h5").exists()


def test_a_failed_download_leaves_no_empty_cache_folder(monkeypatch, tmp_path):
    """Issue 19, item 14: an offline run without EPROP_DATA_DIR left an empty data/ behind."""
    import pooch

    from eprop.data import nmnist

    def offline(*args, path=None, **kwargs):
        Path(path).mkdir(parents=True, exist_ok=True)  # as pooch does before it downloads
        raise ConnectionError("no network")

    monkeypatch.delenv("EPROP_DATA_DIR", raising=False)
    monkeypatch.setenv("EPROP_CACHE_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(pooch, "retrieve", offline)
    with pytest.raises(UserError):
        data.handwriting_file()
    assert not (tmp_path / "data").exists()
    with pytest.raises(UserError):
        nmnist.dataset_root()
    assert not (tmp_path / "data").exists()
    (tmp_path / "data").mkdir()  # a cache folder that was there before stays
    with pytest.raises(UserError):
        data.handwriting_file()
    assert (tmp_path / "data").is_dir()
