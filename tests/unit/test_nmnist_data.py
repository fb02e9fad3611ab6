"""Fast tier: N-MNIST's binary event files, NEST's pixel blocklist, the data set layout and
download, the loader order and the spike times. Nothing here touches the network."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from eprop.data import nmnist
from eprop.errors import UserError
from tests.support.nmnist_samples import synthetic_events, write_synthetic_dataset

SHARED_BLOCKLIST = Path(__file__).resolve().parents[2].parent / "shared" / "data" / nmnist.BLOCKLIST_FILE


def offline_blocklist() -> Path:
    for folder in (os.environ.get("EPROP_DATA_DIR"), SHARED_BLOCKLIST.parent):
        if folder and (Path(folder) / nmnist.BLOCKLIST_FILE).is_file():
            return Path(folder) / nmnist.BLOCKLIST_FILE
    pytest.skip("NMNIST_pixels_blocklist.txt is not available offline (set EPROP_DATA_DIR)")


# --- the binary format ----------------------------------------------------------------------


def test_one_event_has_the_documented_bytes():
    # x=3, y=5, ON, t = 0x12345 us: byte 2 carries the polarity bit and timestamp bits 22-16
    assert nmnist.encode_events([3], [5], [1], [0x12345]) == bytes([3, 5, 0x81, 0x23, 0x45])
    assert nmnist.encode_events([33], [0], [0], [(1 << 23) - 1]) == bytes([33, 0, 0x7F, 0xFF, 0xFF])


def test_reader_decodes_hand_written_bytes(tmp_path):
    path = tmp_path / "two.bin"
    path.write_bytes(bytes([3, 5, 0x81, 0x23, 0x45, 33, 0, 0x7F, 0xFF, 0xFF]))
    events = nmnist.read_events(path)
    assert events.x.tolist() == [3, 33]
    assert events.y.tolist() == [5, 0]
    assert events.polarity.tolist() == [1, 0]
    assert events.t_us.tolist() == [0x12345, (1 << 23) - 1]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reader_round_trips_synthetic_samples(tmp_path, seed):
    rng = np.random.RandomState(seed)
    n = 500
    x, y, polarity = rng.randint(0, 34, n), rng.randint(0, 34, n), rng.randint(0, 2, n)
    t_us = rng.randint(0, 1 << 23, n)
    t_us[:3] = [0, 65535, 65536]  # both sides of 2**16
    assert t_us.max() > 1 << 16 and set(polarity) == {0, 1}
    path = nmnist.write_events(tmp_path / "Train" / "7" / "00001.bin", x, y, polarity, t_us)
    assert path.stat().st_size == 5 * n
    events = nmnist.read_events(path)
    for got, wrote in zip(events, (x, y, polarity, t_us)):
        assert got.dtype == np.int64
        assert np.array_equal(got, wrote)


def test_writer_refuses_values_the_format_cannot_hold(tmp_path):
    with pytest.raises(ValueError, match=r"t_us must be in 0..8388607, got 0..8388608"):
        nmnist.write_events(tmp_path / "a.bin", [0, 1], [0, 1], [0, 1], [0, 1 << 23])
    with pytest.raises(ValueError, match=r"x must be in 0..33, got 0..34"):
        nmnist.write_events(tmp_path / "a.bin", [34, 0], [0, 1], [0, 1], [0, 1])
    with pytest.raises(ValueError, match=r"polarity must be in 0..1, got 2..2"):
        nmnist.write_events(tmp_path / "a.bin", [0], [0], [2], [0])
    assert not (tmp_path / "a.bin").exists()


def valid_bytes(n_events: int = 3) -> bytes:
    return nmnist.encode_events(*synthetic_events(4, np.random.RandomState(0), n_events))


BAD_SAMPLES = [
    ("empty", b"", "{path}: empty sample file; expected N-MNIST events of 5 bytes each"),
    (
        "truncated",
        valid_bytes()[:-2],
        "{path}: 13 bytes is not a whole number of 5-byte events; the file is truncated or not an N-MNIST sample",
    ),
    (
        "corrupt",
        b"\x00\x01\x02\x03\x04\x05\x06",
        "{path}: 7 bytes is not a whole number of 5-byte events; the file is truncated or not an N-MNIST sample",
    ),
    (
        "outside",
        valid_bytes() + bytes([40, 2, 0, 0, 9]),
        "{path}: event 3 has pixel (x=40, y=2) outside the 34 x 34 sensor; the file is corrupt or not an N-MNIST sample",
    ),
]


@pytest.mark.parametrize("name,content,message", BAD_SAMPLES, ids=[b[0] for b in BAD_SAMPLES])
def test_a_bad_sample_file_is_one_line_naming_it(tmp_path, name, content, message):
    path = tmp_path / "Train" / "3" / f"{name}.bin"
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    with pytest.raises(UserError) as info:
        nmnist.read_events(path)
    assert str(info.value) == message.format(path=path)
    assert info.value.exit_code == 2


def test_an_unreadable_sample_is_one_line_naming_it(tmp_path):
    path = tmp_path / "missing.bin"
    with pytest.raises(UserError) as info:
        nmnist.read_events(path)
    assert str(info.value) == f"{path}: cannot read the sample file (No such file or directory)"


def test_event_frames_count_events_per_polarity_row_and_column():
    events = nmnist.Events(*(np.array(v) for v in ([1, 1, 2], [0, 0, 33], [1, 1, 0], [5, 6, 7])))
    frames = nmnist.event_frames(events)
    assert frames.shape == (2, 34, 34) and frames.sum() == 3
    assert frames[1, 0, 1] == 2 and frames[0, 33, 2] == 1


# --- the blocklist --------------------------------------------------------------------------


def test_blocklist_mapping_gives_the_examples_1196_inputs(monkeypatch, tmp_path):
    path = offline_blocklist()
    monkeypatch.setenv("EPROP_DATA_DIR", str(path.parent))
    monkeypatch.setenv("EPROP_CACHE_DIR", str(tmp_path))
    assert nmnist.blocklist_file() == path
    blocked = nmnist.load_blocklist(path)
    assert blocked.size == nmnist.BLOCKLIST_SIZE == 1116
    index = nmnist.input_of_pixel(blocked)
    kept = np.flatnonzero(index >= 0)
    assert kept.size == 2 * 34 * 34 - 1116 == 1196
    assert np.array_equal(index[kept], np.arange(1196))  # ascending pixel order
    assert np.all(index[blocked] == -1)
    assert index[nmnist.pixel_index(x=17, y=17, polarity=1)] >= 0  # the centre is kept
    assert index[nmnist.pixel_index(x=0, y=0, polarity=0)] == -1  # the corner is not


def test_input_of_pixel_numbers_the_kept_pixels_in_order():
    index = nmnist.input_of_pixel(np.array([0, 2, 1157]))
    assert index[:4].tolist() == [-1, 0, -1, 1]
    assert index[1156:1159].tolist() == [1154, -1, 1155]
    assert index.max() == 2312 - 3 - 1 == 2308


def test_a_blocklist_with_the_wrong_hash_is_refused(monkeypatch, tmp_path):
    (tmp_path / nmnist.BLOCKLIST_FILE).write_text("0\n1\n")
    monkeypatch.setenv("EPROP_DATA_DIR", str(tmp_path))
    with pytest.raises(UserError) as info:
        nmnist.blocklist_file()
    assert str(info.value) == (
        f"{tmp_path / nmnist.BLOCKLIST_FILE}: sha256 does not match the pinned 1f176be11cd1…; "
        "delete it to fetch NEST's list again"
    )


def test_blocklist_download_is_pinned_by_url_and_sha256(monkeypatch, tmp_path):
    import pooch

    calls = {}

    def fake_retrieve(url, known_hash, fname, path, progressbar):
        calls.update(url=url, known_hash=known_hash, fname=fname, path=path)
        (path / fname).write_text("5\n")
        return str(path / fname)

    monkeypatch.delenv("EPROP_DATA_DIR", raising=False)
    monkeypatch.setenv("EPROP_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(pooch, "retrieve", fake_retrieve)
    assert nmnist.blocklist_file() == tmp_path / nmnist.BLOCKLIST_FILE
    assert calls == {
        "url": nmnist.BLOCKLIST_URL,
        "known_hash": "sha256:" + nmnist.BLOCKLIST_SHA256,
        "fname": nmnist.BLOCKLIST_FILE,
        "path": tmp_path,
    }


def test_no_network_and_no_blocklist_says_where_to_put_it(monkeypatch, tmp_path):
    import pooch

    monkeypatch.delenv("EPROP_DATA_DIR", raising=False)
    monkeypatch.setenv("EPROP_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(pooch, "retrieve", offline)
    with pytest.raises(UserError) as info:
        nmnist.blocklist_file()
    assert str(info.value) == (
        f"NMNIST_pixels_blocklist.txt: not found and the download failed (ConnectionError); put the file in "
        f"{tmp_path} or point EPROP_DATA_DIR at a folder holding it (source: {nmnist.BLOCKLIST_URL})"
    )


@pytest.mark.parametrize("content", ["0\nx\n", "0\n2312\n", "1.5\n"])
def test_a_malformed_blocklist_is_one_line(tmp_path, content):
    path = tmp_path / "list.txt"
    path.write_text(content)
    with pytest.raises(UserError, match=r"^" + str(path).replace(".", r"\.") + r": ") as info:
        nmnist.load_blocklist(path)
    assert "0..2311" in str(info.value) and "\n" not in str(info.value)


# --- the data set on disk -------------------------------------------------------------------


def offline(*args, **kwargs):
    raise ConnectionError("no network")


def test_no_network_and_no_copy_says_where_to_put_the_data_set(monkeypatch, tmp_path):
    import pooch

    monkeypatch.setenv("EPROP_DATA_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("EPROP_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(pooch, "retrieve", offline)
    with pytest.raises(UserError) as info:
        nmnist.dataset_root()
    assert str(info.value) == (
        "N-MNIST: not found and the download failed (ConnectionError); put the extracted Train.zip and Test.zip "
        f"(Train/<digit>/<id>.bin and Test/<digit>/<id>.bin) in {tmp_path / 'nmnist'} or pass task.data_dir=PATH "
        "to a folder with that layout (source: https://data.mendeley.com/datasets/468j46mzdv/1)"
    )
    assert info.value.exit_code == 2


def zip_of(split: str, samples: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in samples.items():
            zf.writestr(f"{split}/{name}", data)
    return buffer.getvalue()


def test_the_download_is_pinned_by_md5_and_extracted_into_the_cache(monkeypatch, tmp_path):
    import pooch

    calls = []
    sample = valid_bytes(4)

    def fake_retrieve(url, known_hash, fname, path, progressbar):
        calls.append((url, known_hash, fname, path))
        split = fname.removesuffix(".zip")
        (path / fname).write_bytes(zip_of(split, {f"{d}/0000{d}.bin": sample for d in range(10)}))
        return str(path / fname)

    monkeypatch.delenv("EPROP_DATA_DIR", raising=False)
    monkeypatch.setenv("EPROP_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(pooch, "retrieve", fake_retrieve)
    root = nmnist.dataset_root()
    assert root == tmp_path / "nmnist"
    assert calls == [
        (nmnist.ARCHIVES["Train"][0], "md5:20959b8e626244a1b502305a9e6e2031", "Train.zip", tmp_path),
        (nmnist.ARCHIVES["Test"][0], "md5:69ca8762b2fe404d9b9bad1103e97832", "Test.zip", tmp_path),
    ]
    assert (root / "Test" / "9" / "00009.bin").read_bytes() == sample
    assert not (tmp_path / "Train.zip").exists() and sorted(p.name for p in root.iterdir()) == ["Test", "Train"]
    calls.clear()
    assert nmnist.dataset_root() == root and calls == []  # extracted once, then found


def test_a_local_copy_is_used_without_a_download(monkeypatch, tmp_path):
    import pooch

    monkeypatch.setattr(pooch, "retrieve", offline)
    root = write_synthetic_dataset(tmp_path / "copy", n_per_digit=1, n_events=5)
    assert nmnist.dataset_root(root) == root
    monkeypatch.setenv("EPROP_DATA_DIR", str(tmp_path))
    (tmp_path / "copy").rename(tmp_path / "nmnist")
    assert nmnist.dataset_root() == tmp_path / "nmnist"


def test_a_local_copy_with_the_wrong_layout_is_one_line(tmp_path):
    write_synthetic_dataset(tmp_path, n_per_digit=1, n_events=5)
    (tmp_path / "Test").rename(tmp_path / "test")
    with pytest.raises(UserError) as info:
        nmnist.dataset_root(tmp_path)
    assert str(info.value) == (
        f"task.data_dir={tmp_path}: has no Test/ folder; expected the layout "
        "Train/<digit>/<id>.bin and Test/<digit>/<id>.bin"
    )
    with pytest.raises(UserError) as info:
        nmnist.dataset_root(tmp_path / "nowhere")
    assert str(info.value) == (
        f"task.data_dir={tmp_path / 'nowhere'}: no such folder; expected N-MNIST in the layout "
        "Train/<digit>/<id>.bin and Test/<digit>/<id>.bin"
    )


def test_samples_are_listed_by_digit_then_sorted_name(tmp_path):
    for digit, names in ((1, ["00010.bin", "00002.bin"]), (0, ["00007.bin"]), (3, ["b.bin", "a.bin", "notes.txt"])):
        for name in names:
            (tmp_path / "Train" / str(digit)).mkdir(parents=True, exist_ok=True)
            (tmp_path / "Train" / str(digit) / name).write_bytes(valid_bytes())
    paths, labels = nmnist.list_samples(tmp_path, "Train")
    assert [p.relative_to(tmp_path).as_posix() for p in paths] == [
        "Train/0/00007.bin",
        "Train/1/00002.bin",
        "Train/1/00010.bin",
        "Train/3/a.bin",
        "Train/3/b.bin",
    ]
    assert labels.tolist() == [0, 1, 1, 3, 3]


# --- the loader -----------------------------------------------------------------------------


def test_loader_walks_one_permutation_group_by_group_with_wrap_around():
    permutation = np.random.RandomState(1).permutation(7)
    loader = nmnist.ShuffledLoader(7, group_size=3, rng=np.random.RandomState(1))
    groups = [loader.next_group().tolist() for _ in range(3)]
    assert groups == [permutation[[0, 1, 2]].tolist(), permutation[[3, 4, 5]].tolist(), permutation[[6, 0, 1]].tolist()]


def test_a_subset_walks_the_first_n_of_the_same_permutation_and_leaves_the_later_draws_alone():
    rng_full, rng_subset = np.random.RandomState(5), np.random.RandomState(5)
    full = nmnist.ShuffledLoader(20, group_size=4, rng=rng_full)
    subset = nmnist.ShuffledLoader(20, group_size=4, rng=rng_subset, n_use=6)
    assert subset.order.tolist() == full.order[:6].tolist()
    assert [subset.next_group().tolist() for _ in range(3)] == [
        full.order[[0, 1, 2, 3]].tolist(),
        full.order[[4, 5, 0, 1]].tolist(),
        full.order[[2, 3, 4, 5]].tolist(),
    ]
    assert rng_full.randint(1 << 30) == rng_subset.randint(1 << 30)


def test_subset_size_is_checked_against_the_samples_on_disk():
    assert nmnist.subset_size(None, 20, "task.n_train") == 20
    assert nmnist.subset_size(20, 20, "task.n_train") == 20
    for n in (0, 21):
        with pytest.raises(UserError) as info:
            nmnist.subset_size(n, 20, "task.n_test")
        assert str(info.value) == f"task.n_test={n}: the data set has 20 samples here; use 1..20, or null for all"


def test_each_loader_draws_one_permutation_at_construction_and_nothing_per_group():
    rng = np.random.RandomState(1)
    train = nmnist.ShuffledLoader(11, 2, rng)  # the example builds the training loader first
    test = nmnist.ShuffledLoader(5, 2, rng)
    for _ in range(4):
        train.next_group(), test.next_group()
    reference = np.random.RandomState(1)
    assert train.order.tolist() == reference.permutation(11).tolist()
    assert test.order.tolist() == reference.permutation(5).tolist()
    assert rng.randint(1 << 30) == reference.randint(1 << 30)


# --- spike times ----------------------------------------------------------------------------


def hand_made_events() -> nmnist.Events:
    # pixel (x, y, polarity) -> pixel number: (1,0,0)=1, (2,0,0)=2, (0,1,0)=34, (1,0,1)=1157
    x = [1, 2, 1, 1, 0, 1, 1]
    y = [0, 0, 0, 0, 1, 0, 0]
    p = [0, 0, 0, 0, 0, 1, 0]
    t = [0, 560, 561, 1000, 168020, 336040, 1100]
    return nmnist.Events(*(np.array(v, dtype=np.int64) for v in (x, y, p, t)))


def test_events_become_inputs_and_rescaled_steps():
    index = nmnist.input_of_pixel(np.array([0, 34]))  # pixel 34 is blocked: its event is dropped
    got = nmnist.sample_inputs(hand_made_events(), index, "hand.bin")
    # t * 300 / 336040 rounded: 0 -> 0, 560 -> 0 (0.49995), 561 -> 1 (0.50083), 1000 -> 1, 1100 -> 1, 336040 -> 300
    # inputs: pixel 1 -> 0, pixel 2 -> 1, pixel 1157 -> 1155
    assert got.inputs.tolist() == [0, 0, 0, 0, 1, 1155]
    assert got.steps.tolist() == [0, 1, 1, 1, 0, 300]


def test_a_group_gives_the_examples_spike_times():
    index = nmnist.input_of_pixel(np.array([0, 34]))
    sample = nmnist.sample_inputs(hand_made_events(), index, "hand.bin")
    other = nmnist.SampleInputs(np.array([1]), np.array([7]))
    times = nmnist.group_spike_times([sample, other], n_in=2310, t_start_step=600)
    # sample 0 starts at step 600, sample 1 at 900, both shifted by offset_gen = 1 step
    assert times[0].tolist() == [601.0, 602.0, 602.0, 602.0]  # three events of one pixel in one step stay three spikes
    assert times[1].tolist() == [601.0, 908.0]
    assert times[1155].tolist() == [901.0]  # t = 336040 us lands on the first step of the next sample
    assert sum(t.size for t in times) == 7
    assert nmnist.group_spike_times([sample], n_in=2310, t_start_step=0, dt=0.5)[0].tolist() == [0.5, 1.0, 1.0, 1.0]


def test_times_within_an_input_are_sorted_stably():
    events = nmnist.Events(*(np.array(v) for v in ([5, 5, 5], [5, 5, 5], [0, 0, 0], [90000, 3000, 3001])))
    got = nmnist.sample_inputs(events, nmnist.input_of_pixel(np.array([], dtype=int)), "s.bin")
    assert got.steps.tolist() == [3, 3, 80]


def test_an_event_after_time_max_is_one_line_naming_the_file():
    events = nmnist.Events(*(np.array(v) for v in ([5], [5], [0], [336041])))
    with pytest.raises(UserError) as info:
        nmnist.sample_inputs(events, nmnist.input_of_pixel(np.array([], dtype=int)), "Train/1/00004.bin")
    assert str(info.value) == (
        "Train/1/00004.bin: event at 336041 us is later than time_max=336040 us, "
        "the recording length that is rescaled into one sample"
    )


def test_synthetic_data_set_reads_back_what_was_written(tmp_path):
    root = write_synthetic_dataset(tmp_path, n_per_digit=2, seed=3, n_events=50)
    paths, labels = nmnist.list_samples(root, "Test")
    assert len(paths) == 20 and labels.tolist() == [d for d in range(10) for _ in range(2)]
    rng = np.random.RandomState(3)
    rng_train = [synthetic_events(d, rng, 50) for d in range(10) for _ in range(2)]  # Train is written first
    expected = [synthetic_events(d, rng, 50) for d in range(10) for _ in range(2)]
    assert rng_train  # drawn to advance the generator
    for path, wrote in zip(paths, expected):
        got = nmnist.read_events(path)
        assert all(np.array_equal(g, w) for g, w in zip(got, wrote))


def examples_spike_times(paths, active, n_iter_sim, group_size, sequence=300.0, offset_gen=1.0):
    """NEST's example's conversion, restated with its loops: times[pixels == pixel] per kept pixel, then per sample."""
    spike_times = [[] for _ in active]
    for k, path in enumerate(paths):
        raw = np.fromfile(path, dtype=np.uint8).astype(np.int64)
        pixels = (raw[2::5] >> 7) * 34 * 34 + raw[1::5] * 34 + raw[0::5]
        times = np.around((((raw[2::5] << 16) | (raw[3::5] << 8) | raw[4::5]) & 0x7FFFFF) * sequence / 336040)
        for n, pixel in enumerate(active):
            relative = times[pixels == pixel]
            if len(relative):
                spike_times[n].extend(n_iter_sim * group_size * sequence + k * sequence + relative + offset_gen)
    return spike_times


def test_group_spike_times_equal_the_examples_on_synthetic_samples(tmp_path):
    blocked = np.random.RandomState(7).choice(2312, 1116, replace=False)
    index = nmnist.input_of_pixel(blocked)
    active = np.flatnonzero(index >= 0)
    rng = np.random.RandomState(8)
    paths = []
    for k in range(3):
        x, y, p, t = (np.asarray(v) for v in synthetic_events(k, rng, 400))
        x, y, p, t = (
            np.append(x, [8, 8, 8]),
            np.append(y, [10, 10, 10]),
            np.append(p, [1, 1, 1]),
            np.append(t, [336040] * 3),
        )
        paths.append(
            nmnist.write_events(tmp_path / f"{k}.bin", x, y, p, t)
        )  # ends with three events of one pixel at time_max
    samples = [nmnist.sample_inputs(nmnist.read_events(path), index, str(path)) for path in paths]
    got = nmnist.group_spike_times(samples, n_in=active.size, t_start_step=2 * 3 * 300)
    expected = examples_spike_times(paths, active, n_iter_sim=2, group_size=3)
    assert sum(len(t) for t in expected) > 500  # about half of the 1209 events survive this blocklist
    assert (
        index[nmnist.pixel_index(8, 10, 1)] >= 0
        and np.count_nonzero(got[index[nmnist.pixel_index(8, 10, 1)]] == 2101.0) >= 3
    )
    assert all(np.array_equal(g, np.array(e)) for g, e in zip(got, expected))
