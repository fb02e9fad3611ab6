"""A synthetic data set in N-MNIST's binary format and layout, with N-MNIST-like statistics, for benchmarks.

N-MNIST itself (about 1 GB) cannot be downloaded on the benchmark machine, so the benchmark
writes samples that cost the simulation what real ones cost: the same number of events, spread
over the same pixels and times. The data are synthetic; nothing learnt from them says anything
about N-MNIST.

One sample of digit d (numbers from Orchard et al. 2015 and the published files):

- events: `n_events` on average (N-MNIST: about 4000-6000), per sample drawn from a normal
  distribution with a standard deviation of 15 % of the mean, at least 100;
- times: three saccades of 100 ms starting at 0, 105 and 210 ms (the sensor moves along the
  three sides of a triangle; the longest N-MNIST recording is 336 ms), a third of the events
  each, with the event rate peaking in the middle of each saccade (Beta(2, 2) within it);
- pixels: the strokes of d as on a seven-segment display (a 14 x 20 pixel box in the middle of
  the 34 x 34 sensor, where real digits lie) blurred by 0.8 pixels, shifted by the saccade's
  motion (up to 3 pixels); 2 % of the events are noise anywhere on the sensor at any time;
- polarity: ON or OFF with probability 1/2 each.

Draw order (one np.random.RandomState(seed)): for each split (Train, Test), digit 0..9 and
sample: the event count, then per event the saccade, the time within it, the stroke point, the
blur, the noise flag, the noise pixel and time, the polarity (each as one vectorised draw in
that order).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

# seven-segment strokes in a box x 10..23, y 7..26 (pixels): segment -> (x0, y0, x1, y1)
_LEFT, _RIGHT, _TOP, _MID, _BOTTOM = 10.0, 23.0, 7.0, 16.5, 26.0
SEGMENTS = {
    "a": (_LEFT, _TOP, _RIGHT, _TOP),
    "b": (_RIGHT, _TOP, _RIGHT, _MID),
    "c": (_RIGHT, _MID, _RIGHT, _BOTTOM),
    "d": (_LEFT, _BOTTOM, _RIGHT, _BOTTOM),
    "e": (_LEFT, _MID, _LEFT, _BOTTOM),
    "f": (_LEFT, _TOP, _LEFT, _MID),
    "g": (_LEFT, _MID, _RIGHT, _MID),
}
DIGIT_SEGMENTS = ("abcdef", "bc", "abged", "abgcd", "fgbc", "afgcd", "afgedc", "abc", "abcdefg", "abfgcd")
SACCADE_START_MS = (0.0, 105.0, 210.0)  # ms
SACCADE_MS = 100.0  # ms
SACCADE_SHIFT = ((0.0, -3.0, 3.0, 3.0), (3.0, 3.0, -3.0, 3.0), (-3.0, 3.0, 0.0, -3.0))  # (x0, y0, x1, y1) pixels
NOISE_FRACTION = 0.02
BLUR_PX = 0.8  # pixels


def sample_events(digit: int, rng: np.random.RandomState, n_events: int) -> tuple[np.ndarray, ...]:
    """(x, y, polarity, t_us) of one synthetic sample of `digit`, sorted by time (see the module docstring)."""
    n = max(100, int(round(rng.normal(n_events, 0.15 * n_events))))
    saccade = rng.randint(0, 3, n)
    phase = rng.beta(2.0, 2.0, n)  # position within the saccade, 0..1
    segments = [SEGMENTS[s] for s in DIGIT_SEGMENTS[digit]]
    lengths = np.array([np.hypot(x1 - x0, y1 - y0) for x0, y0, x1, y1 in segments])
    which = rng.choice(len(segments), n, p=lengths / lengths.sum())
    along = rng.uniform(0.0, 1.0, n)
    blur = rng.normal(0.0, BLUR_PX, (2, n))
    noise = rng.uniform(0.0, 1.0, n) < NOISE_FRACTION
    noise_xy = rng.randint(0, 34, (2, n))
    noise_t = rng.uniform(0.0, SACCADE_START_MS[-1] + SACCADE_MS, n)
    polarity = rng.randint(0, 2, n)
    seg = np.array(segments)[which]
    shift = np.array(SACCADE_SHIFT)[saccade]
    x = seg[:, 0] + along * (seg[:, 2] - seg[:, 0]) + shift[:, 0] + phase * (shift[:, 2] - shift[:, 0]) + blur[0]
    y = seg[:, 1] + along * (seg[:, 3] - seg[:, 1]) + shift[:, 1] + phase * (shift[:, 3] - shift[:, 1]) + blur[1]
    t_ms = np.array(SACCADE_START_MS)[saccade] + phase * SACCADE_MS
    x = np.where(noise, noise_xy[0], np.clip(np.round(x), 0, 33)).astype(np.int64)
    y = np.where(noise, noise_xy[1], np.clip(np.round(y), 0, 33)).astype(np.int64)
    t_us = np.round(np.where(noise, noise_t, t_ms) * 1000.0).astype(np.int64)
    order = np.argsort(t_us, kind="stable")
    return x[order], y[order], polarity[order], t_us[order]


def write_dataset(
    root: str | Path, per_digit: int, n_events: int = 5000, seed: int = 0, per_digit_test: int | None = None
) -> Path:
    """Write Train/<digit>/<id>.bin and Test/<digit>/<id>.bin (per_digit samples per digit in Train,
    per_digit_test, default per_digit, in Test) in N-MNIST's binary format; returns root."""
    import sys

    sys.path.insert(0, str(ROOT))
    from eprop.data.nmnist import write_events

    root = Path(root)
    rng = np.random.RandomState(seed)
    for split, count in (("Train", per_digit), ("Test", per_digit if per_digit_test is None else per_digit_test)):
        for digit in range(10):
            for k in range(count):
                write_events(root / split / str(digit) / f"{k + 1:05d}.bin", *sample_events(digit, rng, n_events))
    return root
