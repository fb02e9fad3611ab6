"""Fast tier: the HDF5 writer and reader, round trips and refusals."""

from __future__ import annotations

import subprocess
import sys

import h5py
import numpy as np
import pytest

from eprop.errors import ResultsError
from eprop.results import SCHEMA_VERSION, ResultsWriter, find_result_files, open_results


def write_two_iterations(path):
    writer = ResultsWriter(
        path, n_out=2, attrs={"config_yaml": "task:\n  name: demo\n", "overrides": ["seed=3"], "seed": 3}
    )
    writer.write_array("target", np.arange(6.0).reshape(2, 3))
    writer.write_neurons({"input": [1, 2], "recurrent": [3, 4, 5], "readout": [6, 7]})
    writer.write_weights(
        "initial",
        {
            "rec_out": {
                "source": [3, 4, 5, 3, 4, 5],
                "target": [6, 6, 6, 7, 7, 7],
                "weight": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
            }
        },
    )
    writer.declare_recorder("spike_recorder", {"senders": "i8", "times": "f8"})
    writer.append_iteration(
        np.array([1.0, 2.0]), {"spike_recorder": {"senders": np.array([3, 4]), "times": np.array([1.0, 2.0])}}
    )
    return writer


def test_round_trip(tmp_path):
    path = tmp_path / "results.h5"
    writer = write_two_iterations(path)
    # another process can read the file while the run is still writing it
    probe = (
        "from eprop.results import open_results as o; r = o(%r); print(r.status, r.n_iter_done, r.loss.tolist())"
        % str(path)
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["running", "1", "[3.0]"]
    writer.append_iteration(
        np.array([0.5, 0.25]), {"spike_recorder": {"senders": np.array([5, 3, 4]), "times": np.array([4.0, 5.0, 6.0])}}
    )
    writer.finish("complete", {"peak_rss_mb": 12.5})
    writer.close()

    with open_results(tmp_path) as res:
        assert res.status == "complete" and res.n_iter_done == 2
        assert res.attrs["schema_version"] == SCHEMA_VERSION and res.attrs["peak_rss_mb"] == 12.5
        assert res.config == {"task": {"name": "demo"}} and res.overrides == ["seed=3"]
        assert np.array_equal(res.loss, [3.0, 0.75])
        assert np.array_equal(res.loss_per_output, [[1.0, 0.5], [2.0, 0.25]])
        assert np.array_equal(res.target, np.arange(6.0).reshape(2, 3))
        assert np.array_equal(res.events("spike_recorder", iteration=1)["senders"], [5, 3, 4])
        assert np.array_equal(res.events("spike_recorder", iteration=-1)["times"], [4.0, 5.0, 6.0])
        assert np.array_equal(res.events("spike_recorder")["senders"], [3, 4, 5, 3, 4])
        assert res.iteration_bounds("spike_recorder", 0) == (0, 2)
        assert np.array_equal(res.weight_matrix("initial", "rec_out"), [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]])
        assert np.array_equal(res.neurons("recurrent"), [3, 4, 5])
        with pytest.raises(IndexError):
            res.events("spike_recorder", iteration=2)


@pytest.mark.parametrize("compress, cache_bytes", [(False, 0), (True, 2 * 8192 * 8)])
def test_the_writer_caches_at_most_two_chunks_per_dataset(tmp_path, compress, cache_bytes):
    """Regression: HDF5 2.0's default chunk cache (8 MB per dataset) kept the chunks already appended,
    so the resident memory grew with the file (226 -> 350 MB from 10 to 40 iterations of batch 8)."""
    writer = ResultsWriter(tmp_path / "results.h5", n_out=1, attrs={}, compress_events=compress)
    writer.declare_recorder("multimeter_out", {"senders": "i8", "times": "f8"})
    values = np.arange(3 * 8192 + 5, dtype="f8")
    for k in range(3):
        writer.append_iteration(
            np.array([float(k)]), {"multimeter_out": {"senders": values.astype("i8"), "times": values + k}}
        )
        ds = writer._file["events/multimeter_out/times"]
        assert ds.id.get_access_plist().get_chunk_cache()[1] == cache_bytes
    writer.close()
    with open_results(tmp_path) as res:
        assert np.array_equal(res.events("multimeter_out", iteration=2)["times"], values + 2)
        assert np.array_equal(res.events("multimeter_out", iteration=1)["senders"], values.astype("i8"))


def test_writer_never_overwrites(tmp_path):
    path = tmp_path / "results.h5"
    write_two_iterations(path).close()
    with pytest.raises(ResultsError) as info:
        ResultsWriter(path, n_out=2, attrs={})
    assert str(info.value) == f"{path}: exists already; eprop never overwrites results, choose another run directory"
    with open_results(path) as res:
        assert res.n_iter_done == 1


def test_reader_refusals(tmp_path):
    with pytest.raises(ResultsError, match=r"no such results file"):
        open_results(tmp_path / "missing.h5")
    text = tmp_path / "text.h5"
    text.write_text("not hdf5")
    with pytest.raises(ResultsError) as info:
        open_results(text)
    assert str(info.value) == f"{text}: not a readable HDF5 results file (truncated, or not HDF5)"
    good = tmp_path / "good.h5"
    write_two_iterations(good).close()
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(good.read_bytes()[:1000])
    with pytest.raises(ResultsError, match="truncated"):
        open_results(truncated)
    future = tmp_path / "future.h5"
    write_two_iterations(future).close()
    with h5py.File(future, "a") as f:
        f.attrs["schema_version"] = 99
    with pytest.raises(ResultsError) as info:
        open_results(future)
    assert str(info.value) == f"{future}: schema_version 99 is not supported; this eprop reads version {SCHEMA_VERSION}"
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = 1
    with pytest.raises(ResultsError, match="not an eprop results file"):
        open_results(foreign)


def test_find_result_files(tmp_path):
    for job in ("0", "2", "10"):
        (tmp_path / job).mkdir()
        write_two_iterations(tmp_path / job / "results.h5").close()
    (tmp_path / "x").mkdir()
    write_two_iterations(tmp_path / "x" / "results.h5").close()
    found = find_result_files(tmp_path)
    assert [p.parent.name for p in found] == ["0", "2", "10", "x"]  # numbers first, then names
    assert find_result_files(tmp_path / "2") == [tmp_path / "2" / "results.h5"]
    with pytest.raises(ResultsError, match="no such file or directory"):
        find_result_files(tmp_path / "nope")
    (tmp_path / "x" / "results.h5").unlink()
    (tmp_path / "empty").mkdir()
    with pytest.raises(ResultsError, match="contains no results.h5"):
        find_result_files(tmp_path / "empty")
