"""Fast tier: overrides.py reads overrides with Hydra's own parser (one place)."""

from __future__ import annotations

import pytest

from eprop.config import overrides


@pytest.mark.parametrize(
    "items,expected",
    [
        (["optimizer.eta=0.001", "+extra=a=b", "~gone"], {"optimizer.eta": "0.001", "extra": "a=b", "gone": ""}),
        (
            [
                "task=sine_waves",
                "++seed=3",
                "task.sine_periods=[100,50]",
                "task.data_file='a b.txt'",
                "hydra/launcher=joblib",
            ],
            {
                "task": "sine_waves",
                "seed": "3",
                "task.sine_periods": "[100,50]",
                "task.data_file": "'a b.txt'",
                "hydra/launcher": "joblib",
            },
        ),
    ],
)
def test_key_values_as_typed(items, expected):
    # the values exactly as typed (what eval's tables and the sweep summary show); the
    # hand-written parser they replace gave the same dictionaries
    assert overrides.key_values(items) == expected


@pytest.mark.parametrize(
    "text,values",
    [
        ("kernel.threads=3", [3]),
        ("kernel.threads=1,2", [1, 2]),
        ("kernel.threads=choice(1,4)", [1, 4]),
        ("kernel.threads=range(1,4)", [1, 2, 3]),
        ("seed=interval(1,5)", []),
        ("~kernel.threads", []),
        ("task.sine_periods=[100,50]", [[100, 50]]),
    ],
)
def test_values_of_an_override(text, values):
    assert overrides.values(text) == values


def test_swept_threads_reads_range_and_choice_sweeps(compose):
    from omegaconf import open_dict

    from eprop.sweep import swept_threads

    cfg = compose(return_hydra_config=True)
    for sweep, largest in (
        ("kernel.threads=range(1,4)", 3),
        ("kernel.threads=choice(2,1)", 2),
        ("+kernel.threads=5", 5),
        ("seed=1,2", 1),
    ):
        with open_dict(cfg):
            cfg.hydra.overrides.task = [sweep]
        assert swept_threads(cfg) == largest, sweep
