"""N-MNIST: the binary event files, NEST's pixel blocklist, the data set layout and its download,
and the conversion of a sample's events into spike-generator spike times.

The binary format
-----------------
One sample is one file of events, 5 bytes per event, no header:

    byte 0   x, the pixel column (0-33)
    byte 1   y, the pixel row (0-33)
    byte 2   bit 7: polarity (1 = ON, brighter; 0 = OFF); bits 6-0: timestamp bits 22-16
    byte 3   timestamp bits 15-8
    byte 4   timestamp bits 7-0

The timestamp is 23 bits of microseconds from the start of the recording (at most 8.39 s; the
longest N-MNIST recording is 336040 us). `read_events` and `write_events` read and write this
format with numpy, one vectorised pass per file.

Inputs
------
NEST's example numbers the 34 x 34 x 2 = 2312 pixel-polarity pairs as
pixel = polarity * 34 * 34 + y * 34 + x, drops the 1116 pixels of `NMNIST_pixels_blocklist.txt`
(GPL-2.0-or-later, never shipped with eprop: found at $EPROP_DATA_DIR, in the cache, or fetched
pinned by sha256), and gives the remaining 1196 pixels the input indices 0..1195 in ascending
pixel order (`input_of_pixel`).

Spike times
-----------
A sample lasts `sequence_steps` time steps (300 in the example). An event at t_us microseconds
becomes the relative step round(t_us * sequence_steps / time_max_us) (numpy's round half to
even; time_max_us = 336040 us, the longest recording, so relative steps run from 0 to
sequence_steps inclusive). Sample k of a group that starts at step t_start gets the spike time
(t_start + k * sequence_steps + offset_gen + relative step) * dt with offset_gen = 1 step,
because generator signals start at step 1. Several events of one pixel in one step stay
several spike times: the spike generator emits them all in that step. Within one input the
times are sorted (stably: for N-MNIST's time-ordered files that is the example's file order;
a spike generator refuses unsorted times).

Draw order (NEST's example; one numpy RandomState seeded with the run's seed, 1 there)
---------------------------------------------------------------------------------------
Everything is drawn before the first step, nothing per iteration:

    1. weights in->rec   randn(n_in, n_rec).T / sqrt(n_in)
    2. weights rec->rec  randn(n_rec, n_rec).T / sqrt(n_rec), diagonal set to 0
    3. weights rec->out  uniform(-l, l, size=(n_rec, n_out)).T * (1 - kappa), Glorot limit
                         l = sqrt(3 / max(1, (n_rec + n_out) / 2))
    4. feedback out->rec randn(n_rec, n_out) / (1 - kappa)
    5. mask in->rec      choice([0, 1], (n_rec, n_in), p=[0.75, 0.25])
    6. mask rec->rec     choice([0, 1], (n_rec, n_rec), p=[0.99, 0.01])
    7. mask rec->out     choice([0, 1], (n_out, n_rec), p=[0.0, 1.0])  (drawn although all ones)
    8. training loader   permutation(number of training samples)
    9. test loader       permutation(number of test samples)

A loader (`ShuffledLoader`) walks its permutation: each iteration takes the next
`group_size` entries, wrapping around at the end (numpy take, mode "wrap"), and never
reshuffles. The samples are listed per digit 0..9, each digit's files in sorted name order.
The validation, early-stopping and test phases all draw from the test loader, in the order
they run. With a subset (`n_train`, `n_test`) the permutation of all samples is drawn as
above and the loader walks only its first n entries, so the draws after it do not depend on n.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from eprop.data.files import cache_dir, pinned_file, removed_if_left_empty
from eprop.errors import UserError

# --- the sensor and the event format -------------------------------------------------------

N_X = 34  # pixels per row
N_Y = 34  # pixels per column
N_POLARITY = 2
N_PIXELS = N_X * N_Y * N_POLARITY  # 2312
N_CLASSES = 10
EVENT_BYTES = 5
TIME_LIMIT_US = 1 << 23  # us, timestamps are 23 bits: 0 <= t_us < 2**23

# --- NEST's example (eprop_supervised_classification_neuromorphic_mnist.py, NEST 3.10) ----

TIME_MAX_US = 336040  # us, longest recording in the training and test sets
SEQUENCE_STEPS = 300  # time steps of one sample
OFFSET_GEN_STEPS = 1  # steps, generator signals start at step 1

BLOCKLIST_FILE = "NMNIST_pixels_blocklist.txt"
BLOCKLIST_URL = "https://raw.githubusercontent.com/nest/nest-simulator/v3.10/pynest/examples/eprop_plasticity/NMNIST_pixels_blocklist.txt"
BLOCKLIST_SHA256 = "1f176be11cd176b784564f6e99b4775f19e8c32acecd6a4a6d5c79c3e8c5ed06"
BLOCKLIST_SIZE = 1116  # pixels in NEST's list; 2312 - 1116 = 1196 inputs

# --- the published data set (Orchard et al. 2015, Mendeley Data 468j46mzdv), as tonic pins it

DATASET_DIR = "nmnist"  # folder under $EPROP_DATA_DIR or the cache
DATASET_SOURCE = "https://data.mendeley.com/datasets/468j46mzdv/1"
_MENDELEY_FILES = "https://data.mendeley.com/public-files/datasets/468j46mzdv/files/"
ARCHIVES = {
    "Train": (
        _MENDELEY_FILES + "39c25547-014b-4137-a934-9d29fa53c7a0/file_downloaded",
        "md5:20959b8e626244a1b502305a9e6e2031",
    ),
    "Test": (
        _MENDELEY_FILES + "05a4d654-7e03-4c15-bdfa-9bb2bcbea494/file_downloaded",
        "md5:69ca8762b2fe404d9b9bad1103e97832",
    ),
}
SPLITS = ("Train", "Test")
LAYOUT = "Train/<digit>/<id>.bin and Test/<digit>/<id>.bin"


class Events(NamedTuple):
    """One sample's events, one entry per event in file order (int64 arrays)."""

    x: np.ndarray  # pixels
    y: np.ndarray  # pixels
    polarity: np.ndarray  # 1 = ON, 0 = OFF
    t_us: np.ndarray  # us since the start of the recording


# --- reading and writing the binary format ------------------------------------------------


def decode_events(data: bytes, name: str) -> Events:
    """Decode the bytes of one sample file; `name` (the file) is what an error message names."""
    raw = np.frombuffer(data, dtype=np.uint8)
    if raw.size == 0:
        raise UserError(f"{name}: empty sample file; expected N-MNIST events of {EVENT_BYTES} bytes each")
    if raw.size % EVENT_BYTES:
        raise UserError(
            f"{name}: {raw.size} bytes is not a whole number of {EVENT_BYTES}-byte events; the file is truncated or not an N-MNIST sample"
        )
    rows = raw.reshape(-1, EVENT_BYTES).astype(np.int64)
    x, y = rows[:, 0], rows[:, 1]
    outside = np.flatnonzero((x >= N_X) | (y >= N_Y))
    if outside.size:
        i = int(outside[0])
        raise UserError(
            f"{name}: event {i} has pixel (x={x[i]}, y={y[i]}) outside the {N_X} x {N_Y} sensor; the file is corrupt or not an N-MNIST sample"
        )
    polarity = rows[:, 2] >> 7
    t_us = ((rows[:, 2] & 0x7F) << 16) | (rows[:, 3] << 8) | rows[:, 4]
    return Events(x.copy(), y.copy(), polarity, t_us)


def check_sample_files(paths: Sequence[Path]) -> None:
    """The cheap checks of `decode_events` on each sample file's size (one stat each, no read): not
    missing, not empty, a whole number of events. Done before a run, so that a truncated sample
    stops it before its results file is made, not when the sample is read at its iteration."""
    for path in paths:
        try:
            size = os.stat(path).st_size
        except OSError as err:
            raise UserError(f"{path}: cannot read the sample file ({err.strerror or type(err).__name__})")
        if size == 0:
            raise UserError(f"{path}: empty sample file; expected N-MNIST events of {EVENT_BYTES} bytes each")
        if size % EVENT_BYTES:
            raise UserError(
                f"{path}: {size} bytes is not a whole number of {EVENT_BYTES}-byte events; the file is truncated or not an N-MNIST sample"
            )


def read_events(path: str | Path) -> Events:
    """Read one N-MNIST sample file (see the module docstring for the format)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise UserError(f"{path}: cannot read the sample file ({err.strerror or type(err).__name__})")
    return decode_events(data, str(path))


def encode_events(x, y, polarity, t_us) -> bytes:
    """The bytes of a sample file holding these events (in the given order)."""
    columns = [np.asarray(v, dtype=np.int64).ravel() for v in (x, y, polarity, t_us)]
    x, y, polarity, t_us = columns
    if len({c.size for c in columns}) != 1:
        raise ValueError(f"x, y, polarity and t_us have different lengths {[c.size for c in columns]}")
    if x.size == 0:
        raise ValueError("no events: an N-MNIST sample file holds at least one event")
    for label, values, high in (("x", x, N_X), ("y", y, N_Y), ("polarity", polarity, 2), ("t_us", t_us, TIME_LIMIT_US)):
        if values.min() < 0 or values.max() >= high:
            raise ValueError(f"{label} must be in 0..{high - 1}, got {values.min()}..{values.max()}")
    rows = np.empty((x.size, EVENT_BYTES), dtype=np.uint8)
    rows[:, 0] = x
    rows[:, 1] = y
    rows[:, 2] = (polarity << 7) | (t_us >> 16)
    rows[:, 3] = (t_us >> 8) & 0xFF
    rows[:, 4] = t_us & 0xFF
    return rows.tobytes()


def write_events(path: str | Path, x, y, polarity, t_us) -> Path:
    """Write one sample file in N-MNIST's binary format; makes the parent folders."""
    path = Path(path)
    data = encode_events(x, y, polarity, t_us)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def event_frames(events: Events) -> np.ndarray:
    """Event counts per pixel, shape (polarity, y, x) = (2, 34, 34): the sample seen as two images."""
    counts = np.bincount(pixel_index(events.x, events.y, events.polarity), minlength=N_PIXELS)
    return counts.reshape(N_POLARITY, N_Y, N_X)


# --- pixels and the blocklist -------------------------------------------------------------


def pixel_index(x, y, polarity) -> np.ndarray:
    """NEST's example's pixel number: polarity * 34 * 34 + y * 34 + x."""
    return np.asarray(polarity) * (N_X * N_Y) + np.asarray(y) * N_X + np.asarray(x)


def blocklist_file() -> Path:
    """Path of a verified copy of NMNIST_pixels_blocklist.txt: $EPROP_DATA_DIR, the cache, or a pinned download."""
    return pinned_file(BLOCKLIST_FILE, BLOCKLIST_URL, BLOCKLIST_SHA256, "delete it to fetch NEST's list again")


def load_blocklist(path: str | Path) -> np.ndarray:
    """The blocked pixel numbers of a blocklist file (one pixel number per line), sorted and unique."""
    path = Path(path)
    try:
        values = np.loadtxt(path, dtype=float, ndmin=1)
    except (OSError, ValueError) as err:
        raise UserError(
            f"{path}: not a pixel blocklist ({type(err).__name__}); expected one pixel number 0..{N_PIXELS - 1} per line"
        )
    if values.size and (np.any(values != np.round(values)) or values.min() < 0 or values.max() >= N_PIXELS):
        raise UserError(f"{path}: pixel numbers must be whole numbers 0..{N_PIXELS - 1}")
    return np.unique(values.astype(np.int64))


def input_of_pixel(blocklist: np.ndarray) -> np.ndarray:
    """Input index of each of the 2312 pixels, -1 where blocked; kept pixels are numbered in ascending order."""
    keep = np.ones(N_PIXELS, dtype=bool)
    keep[np.asarray(blocklist, dtype=np.int64)] = False
    index = np.full(N_PIXELS, -1, dtype=np.int64)
    index[keep] = np.arange(int(keep.sum()))
    return index


# --- the data set on disk -----------------------------------------------------------------


def list_samples(root: str | Path, split: str, key: str = "task.data_dir") -> tuple[list[Path], np.ndarray]:
    """Paths and labels of a split's samples: digits 0..9 in turn, each digit's .bin files in sorted name order."""
    split_dir = Path(root) / split
    if not split_dir.is_dir():
        raise UserError(f"{key}={root}: has no {split}/ folder; expected the layout {LAYOUT}")
    paths: list[Path] = []
    labels: list[int] = []
    for digit in range(N_CLASSES):
        digit_dir = split_dir / str(digit)
        if not digit_dir.is_dir():
            continue
        names = sorted(name for name in os.listdir(digit_dir) if name.endswith(".bin"))
        paths.extend(digit_dir / name for name in names)
        labels.extend([digit] * len(names))
    if not paths:
        raise UserError(f"{key}={root}: {split}/ holds no samples; expected the layout {LAYOUT}")
    return paths, np.array(labels, dtype=np.int64)


def _has_samples(split_dir: Path) -> bool:
    return any(next((split_dir / str(d)).glob("*.bin"), None) is not None for d in range(N_CLASSES))


def _has_layout(root: Path) -> bool:
    return all(_has_samples(root / split) for split in SPLITS)


def download_dataset(dest: Path) -> None:
    """Fetch Train.zip and Test.zip (pinned by md5, as tonic pins them) and extract them into dest."""
    import pooch

    pooch.get_logger().setLevel("WARNING")
    dest.mkdir(parents=True, exist_ok=True)
    for split, (url, known_hash) in ARCHIVES.items():
        if (dest / split).is_dir():
            continue
        archive = Path(
            pooch.retrieve(url, known_hash=known_hash, fname=f"{split}.zip", path=cache_dir(), progressbar=False)
        )
        staging = Path(tempfile.mkdtemp(prefix=f".{split}-", dir=dest))
        try:
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(staging)  # zipfile drops absolute paths and ".." parts
            found = [p for p in (staging / split, *staging.glob(f"*/{split}")) if p.is_dir()]
            if not found:
                raise UserError(f"{archive}: holds no {split}/ folder; expected {split}/<digit>/<id>.bin")
            found[0].rename(dest / split)  # appears only when complete
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        archive.unlink()  # about 1 GB together; the extracted folder is what is used


def dataset_root(data_dir: str | Path | None = None, key: str = "task.data_dir") -> Path:
    """Folder holding N-MNIST in the layout Train/<digit>/<id>.bin, Test/<digit>/<id>.bin.

    `data_dir` (the user's local copy) is used as given. Otherwise $EPROP_DATA_DIR/nmnist, then
    the cache's nmnist/ folder, which is filled by a pinned download if it is missing.
    """
    if data_dir is not None and str(data_dir) != "":
        root = Path(data_dir)
        if not root.is_dir():
            raise UserError(f"{key}={root}: no such folder; expected N-MNIST in the layout {LAYOUT}")
        for split in SPLITS:
            list_samples(root, split, key)  # one line naming what is missing
        return root
    candidates = [Path(os.environ["EPROP_DATA_DIR"]) / DATASET_DIR] if os.environ.get("EPROP_DATA_DIR") else []
    cached = cache_dir() / DATASET_DIR
    for root in (*candidates, cached):
        if _has_layout(root):
            return root
    try:
        with removed_if_left_empty(cached, cache_dir()):
            download_dataset(cached)
    except UserError:
        raise
    except Exception as err:  # network and archive errors come in many types
        raise UserError(
            f"N-MNIST: not found and the download failed ({type(err).__name__}); put the extracted Train.zip and Test.zip "
            f"({LAYOUT}) in {cached} or pass {key}=PATH to a folder with that layout (source: {DATASET_SOURCE})"
        )
    return cached


# --- the loader and the spike times -------------------------------------------------------


def subset_size(n: int | None, n_available: int, key: str) -> int:
    """How many samples a loader walks: n (1..n_available), or all of them for None."""
    if n is None:
        return n_available
    if not 1 <= n <= n_available:
        raise UserError(
            f"{key}={n}: the data set has {n_available} samples here; use 1..{n_available}, or null for all"
        )
    return n


class ShuffledLoader:
    """NEST's example's sample order: one permutation at construction, walked group by group with wrap-around."""

    def __init__(self, n_samples: int, group_size: int, rng: np.random.RandomState, n_use: int | None = None):
        self.order = rng.permutation(n_samples)
        if n_use is not None:
            self.order = self.order[:n_use]
        self.group_size = group_size
        self.cursor = 0

    def next_group(self) -> np.ndarray:
        """Indices (into the sample list) of the next group_size samples."""
        picked = np.take(self.order, np.arange(self.cursor, self.cursor + self.group_size), mode="wrap")
        self.cursor = (self.cursor + self.group_size) % len(self.order)
        return picked


class SampleInputs(NamedTuple):
    """A sample's kept events as (input index, relative step), sorted by input, then step."""

    inputs: np.ndarray
    steps: np.ndarray


def sample_inputs(
    events: Events,
    input_index: np.ndarray,
    name: str,
    sequence_steps: int = SEQUENCE_STEPS,
    time_max_us: int = TIME_MAX_US,
) -> SampleInputs:
    """Map one sample's events to inputs and relative steps 0..sequence_steps (see the module docstring)."""
    late = np.flatnonzero(events.t_us > time_max_us)
    if late.size:
        raise UserError(
            f"{name}: event at {int(events.t_us[late[0]])} us is later than time_max={time_max_us} us, "
            "the recording length that is rescaled into one sample"
        )
    inputs = input_index[pixel_index(events.x, events.y, events.polarity)]
    steps = np.around(events.t_us * sequence_steps / time_max_us).astype(np.int64)
    kept = inputs >= 0
    inputs, steps = inputs[kept], steps[kept]
    order = np.lexsort((steps, inputs))  # stable: equal (input, step) keep file order
    return SampleInputs(inputs[order], steps[order])


def group_spike_times(
    samples: Sequence[SampleInputs],
    n_in: int,
    t_start_step: int,
    sequence_steps: int = SEQUENCE_STEPS,
    dt: float = 1.0,
    offset_gen_steps: int = OFFSET_GEN_STEPS,
) -> list[np.ndarray]:
    """Spike times (ms) per input for a group of samples played one after another from step t_start_step.

    Sample k's event at relative step s spikes at (t_start_step + k * sequence_steps +
    offset_gen_steps + s) * dt. dt is the resolution in ms.
    """
    if not samples:
        return [np.empty(0) for _ in range(n_in)]
    inputs = np.concatenate([s.inputs for s in samples])
    steps = np.concatenate(
        [t_start_step + k * sequence_steps + offset_gen_steps + s.steps for k, s in enumerate(samples)]
    )
    order = np.lexsort((steps, inputs))
    inputs, times = inputs[order], steps[order] * dt
    bounds = np.searchsorted(inputs, np.arange(n_in + 1))
    return [times[bounds[i] : bounds[i + 1]] for i in range(n_in)]
