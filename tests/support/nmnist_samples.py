"""A small synthetic data set in N-MNIST's binary format and layout, for tests that never download.

Each digit's samples put their events in one band of rows in the middle of the 34 x 34 sensor,
where NEST's blocklist keeps the pixels (digit d: rows 6+2d..9+2d, columns 8..25), so a network
can tell the classes apart; times are sorted, as in N-MNIST's files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eprop.data.nmnist import TIME_MAX_US, write_events


def synthetic_events(digit: int, rng: np.random.RandomState, n_events: int = 200):
    """(x, y, polarity, t_us) of one synthetic sample of `digit`, sorted by time."""
    x = rng.randint(8, 26, n_events)
    y = 6 + 2 * digit + rng.randint(0, 4, n_events)
    polarity = rng.randint(0, 2, n_events)
    t_us = np.sort(rng.randint(0, TIME_MAX_US + 1, n_events))
    return x, y, polarity, t_us


def write_synthetic_dataset(root: Path, n_per_digit: int, seed: int = 0, n_events: int = 200) -> Path:
    """Write Train/<digit>/<id>.bin and Test/<digit>/<id>.bin with n_per_digit samples per digit and split."""
    rng = np.random.RandomState(seed)
    for split in ("Train", "Test"):
        for digit in range(10):
            for k in range(n_per_digit):
                write_events(root / split / str(digit) / f"{k + 1:05d}.bin", *synthetic_events(digit, rng, n_events))
    return root
