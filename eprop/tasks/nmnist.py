"""N-MNIST classification (NEST 3.10's `eprop_supervised_classification_neuromorphic_mnist.py`):
the samples, the groups an iteration plays, the targets, the learning windows, loss and accuracy.

An iteration plays `task.group_size` samples back to back (300 ms each by default). Each sample's
events are spike times of the inputs (one input per pixel and polarity that NEST's blocklist
keeps: 1196), the target of readout k is 1 during a sample of digit k and 0 otherwise, and the
learning signals are on only in the last `task.learning_window_ms` of each sample (the
learning-window rate generator on the readouts' receptor 1). Loss: the example's mean squared
error over the windows; accuracy: argmax over readouts of the mean readout signal in a window, a tie
(equal readouts, e.g. a silent network) being no prediction (/predicted -1), counted wrong.

Draws (one numpy RandomState seeded with `seed`; see data/nmnist.py and docs/nmnist.md):
weights 1-4, the masks of `weights.<projection>.sparsity` (5-7 with the example's levels), then
the training loader's permutation, then the test loader's. Nothing is drawn per iteration.
Training iterations take the next group of the training loader; every other phase (validation,
early stopping, test: phases.py) the next group of the test loader, as the example does.

The samples of a group are read when the training loop asks for the iteration's signals (one
iteration ahead), never all at once. Times: the event at t_us of sample j of the group spikes
at step j * sequence_steps + round(t_us * sequence_steps / time_max_us) from the iteration's
start (plus offset_gen, added by the simulator). An event that rounds to the very end of the
group's last sample would fall on the next iteration's first step: the example drops it there
(setting a spike generator's times replaces the ones not yet emitted), and so does this task.
No NEST here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from eprop.config.fields import TaskConfig, param
from eprop.config.phases import TRAINING
from eprop.data import nmnist as data
from eprop.errors import UserError
from eprop.tasks.base import IterationSignals, Outcome, Task, readout_by_sequence
from eprop.tasks.evidence_accumulation import accuracy, one_hot_targets, predicted_class


@dataclass
class NmnistConfig(TaskConfig):
    """The task's keys: the keys of every task (config.fields.TaskConfig) and the data set's (defaults: NEST's example)."""

    data_dir: str | None = param(
        None,
        "nmnist: folder with Train/<digit>/<id>.bin and Test/<digit>/<id>.bin; "
        "null: $EPROP_DATA_DIR/nmnist, the cache, or the pinned download",
    )
    blocklist_file: str | None = param(
        None,
        "nmnist: pixel blocklist (one pixel number per line); null: NEST's "
        "NMNIST_pixels_blocklist.txt, pinned by sha256",
    )
    n_train: int | None = param(
        None,
        "nmnist: training samples the training loader walks (the first n of its permutation); null: all",
        min_int=1,
    )
    n_test: int | None = param(
        None, "nmnist: test samples the test loader walks (validation, early stopping and test); null: all", min_int=1
    )
    group_size: int = param(
        100, "nmnist: samples per iteration, played back to back (the example's group_size)", min_int=1
    )
    sample_ms: float = param(
        300.0, "nmnist: duration of one sample (its events are rescaled into it)", unit="ms", positive=True
    )
    learning_window_ms: float = param(
        10.0, "nmnist: learning window at the end of each sample (loss and learning signals)", unit="ms", positive=True
    )
    time_max_us: int = param(
        data.TIME_MAX_US,
        "nmnist: recording time rescaled onto one sample (the longest N-MNIST recording)",
        unit="us",
        min_int=1,
    )


class Nmnist(Task):
    """Classification of N-MNIST's ten digits with the event-based models, as NEST's example.

    `check` resolves the blocklist and the data set (one line if either is missing); `draw` makes
    the two loaders; `iteration_signals(k, phase)` reads the group of iteration k from the loader
    of its phase.
    """

    kind = "classification"
    config_schema = NmnistConfig
    n_classes = data.N_CLASSES
    metric_names = ("accuracy",)
    per_sequence_names = ("labels", "predicted")

    def __init__(self, cfg) -> None:
        super().__init__(cfg)
        t = cfg.task
        self.group_size = int(t.group_size)
        self.resolution_ms = float(cfg.kernel.resolution)
        self._loaders: dict[str, data.ShuffledLoader] = {}
        self._next = 0  # the next iteration to give signals for

    # ------------------------------------------------------------ config and data

    def steps(self, key: str) -> int:
        """Whole time steps of the duration task.KEY (UserError if it is not a multiple of the resolution)."""
        value = float(self.cfg.task[key])
        n = round(value / self.resolution_ms)
        if n < 1 or not np.isclose(n * self.resolution_ms, value):
            raise UserError(
                f"task.{key}={value}: must be a whole number of time steps of kernel.resolution={self.resolution_ms} ms"
            )
        return n

    @cached_property
    def input_index(self) -> np.ndarray:
        """Input index of each of the 2312 pixels, -1 where the blocklist drops it."""
        path = self.cfg.task.blocklist_file
        if path is None:
            path = data.blocklist_file()
        elif not Path(path).is_file():
            raise UserError(
                f"task.blocklist_file={path}: no such file; give a pixel blocklist (one pixel number "
                f"0..{data.N_PIXELS - 1} per line) or null for NEST's list"
            )
        return data.input_of_pixel(data.load_blocklist(path))

    @cached_property
    def samples(self) -> dict[str, tuple[list[Path], np.ndarray]]:
        """Paths and labels of each split's samples ("Train", "Test"), listed once."""
        root = data.dataset_root(self.cfg.task.data_dir)
        return {split: data.list_samples(root, split) for split in data.SPLITS}

    def check(self, cfg) -> None:
        t = cfg.task
        sequence, window = self.steps("sample_ms"), self.steps("learning_window_ms")
        if window > sequence:
            raise UserError(
                f"task.learning_window_ms={t.learning_window_ms}: must be <= task.sample_ms={t.sample_ms} ms"
            )
        if t.sequence_steps is not None and t.sequence_steps != sequence:
            raise UserError(
                f"task.sequence_steps={t.sequence_steps}: task.sample_ms={t.sample_ms} ms gives {sequence} "
                "steps; leave it null"
            )
        if t.batch_size != 1:
            raise UserError(
                f"task.batch_size={t.batch_size}: nmnist plays task.group_size samples per iteration and "
                "updates the weights during them (optimizer.batch_size); leave it 1"
            )
        n_kept = self.n_inputs
        if t.n_in != n_kept:
            raise UserError(
                f"task.n_in={t.n_in}: the pixel blocklist keeps {n_kept} of the {data.N_PIXELS} pixel-polarity "
                f"inputs; set task.n_in={n_kept}"
            )
        for split, key in (("Train", "task.n_train"), ("Test", "task.n_test")):
            data.subset_size(t[key.split(".")[1]], len(self.samples[split][0]), key)

    def check_model_family(self, cfg) -> None:
        if cfg.model.family != "eprop":
            raise UserError(
                f"task.target={cfg.task.target}: runs on the event-based models (a learning window per "
                f"sample from a rate generator, mean squared error), not model={cfg.model.family}; "
                "use model=eprop or experiment=nmnist"
            )

    @property
    def n_inputs(self) -> int:
        return int(np.count_nonzero(self.input_index >= 0))

    @property
    def n_outputs(self) -> int:
        return self.n_classes

    @property
    def sequence_steps(self) -> int:
        return self.steps("sample_ms")

    @property
    def learning_window_steps(self) -> int:
        return self.steps("learning_window_ms")

    @property
    def sequences_per_iteration(self) -> int:
        return self.group_size

    def window_mask(self) -> np.ndarray:
        """(sequence_steps,) bool: True in the learning window, the last steps of a sample."""
        mask = np.zeros(self.sequence_steps, dtype=bool)
        mask[self.sequence_steps - self.learning_window_steps :] = True
        return mask

    # ------------------------------------------------------------ results file

    def declare_results(self, writer) -> None:
        """/accuracy, /labels, /predicted; /loss is the example's mean squared error over the learning windows."""
        writer.declare_iteration_metrics(
            self.metric_names,
            self.per_sequence_names,
            self.group_size,
            loss_units={
                "loss": (
                    "mV^2",
                    "the example's loss per iteration: 1/2 sum over the learning window of (y_k - y*_k)^2, "
                    "mean over the readouts and the group's samples",
                ),
                "loss_per_output": (
                    "mV^2",
                    "the terms of /loss per readout neuron: 1/2 sum over the window of (y_k - y*_k)^2, "
                    "mean over the samples, divided by the number of readouts (rows in /neurons/readout order)",
                ),
            },
        )

    def results_attrs(self) -> dict:
        """Also the learning window (steps at the end of each sample), the loss function, and how to show the
        inputs: `display.input_image_shape` (polarity, y, x) with /input_pixel mapping inputs to pixels."""
        window = self.learning_window_steps
        return {
            **super().results_attrs(),
            "learning_window_steps": window,
            "loss_function": "mean_squared_error",
            "display": {
                "classes": [str(d) for d in range(self.n_classes)],
                "learning_window_steps": window,
                "input_image_shape": [data.N_POLARITY, data.N_Y, data.N_X],
            },
        }

    def write_static(self, writer) -> None:
        """/input_pixel (n_in,): the pixel of each input neuron, polarity * 34 * 34 + y * 34 + x."""
        writer.write_array("input_pixel", np.flatnonzero(self.input_index >= 0).astype(np.int64))

    # ------------------------------------------------------------ draws and signals

    def draw(self, rng: np.random.RandomState) -> None:
        """The training loader's permutation, then the test loader's (draws after the weights and masks)."""
        t = self.cfg.task
        for split, n_use in (("Train", t.n_train), ("Test", t.n_test)):
            self._loaders[split] = data.ShuffledLoader(len(self.samples[split][0]), self.group_size, rng, n_use)
        self._next = 0
        self.check_samples()

    def check_samples(self) -> None:
        """The size of every sample the run can play (data.check_sample_files: one stat each), before the
        run starts: the training loader's first task.n_iter groups, and the test loader's samples if
        phases.* has validation or test iterations."""
        paths, _ = self.samples["Train"]
        loader = self._loaders["Train"]
        n_train = min(len(loader.order), int(self.cfg.task.n_iter) * self.group_size)
        data.check_sample_files([paths[i] for i in loader.order[:n_train]])
        p = self.cfg.get("phases")
        if p is not None and (p.validate_every > 0 or p.n_test > 0):
            paths, _ = self.samples["Test"]
            data.check_sample_files([paths[i] for i in self._loaders["Test"].order])

    def _split(self, phase: int) -> str:
        return "Train" if phase == TRAINING else "Test"

    def start_at(self, first_iteration: int, phases: Sequence[int] = ()) -> None:
        """Walk each loader past the groups the parent runs played (PHASES: one per iteration done)."""
        phases = list(phases) + [TRAINING] * (first_iteration - len(phases))
        for phase in phases[:first_iteration]:
            self._loaders[self._split(phase)].next_group()
        self._next = 0

    def group(self, phase: int) -> tuple[list[data.SampleInputs], np.ndarray]:
        """The next group of the loader of PHASE: each sample's (input, relative step) events, and the labels."""
        split = self._split(phase)
        paths, labels = self.samples[split]
        picked = self._loaders[split].next_group()
        samples = [
            data.sample_inputs(
                data.read_events(paths[i]),
                self.input_index,
                str(paths[i]),
                self.sequence_steps,
                int(self.cfg.task.time_max_us),
            )
            for i in picked
        ]
        return samples, labels[picked]

    def iteration_signals(self, k: int, phase: int = TRAINING) -> IterationSignals:
        if k != self._next:
            raise RuntimeError(f"nmnist: iteration {k} asked for, {self._next} is next (the loaders walk in order)")
        self._next += 1
        samples, labels = self.group(phase)
        steps = self.sequence_steps
        iteration = self.group_size * steps
        times = data.group_spike_times(samples, self.n_inputs, 0, steps, dt=1.0, offset_gen_steps=0)
        input_steps = [
            s[s < iteration] for s in times
        ]  # the last sample's events at its very end: dropped, as the example
        target = np.repeat(one_hot_targets(labels, self.n_classes), steps, axis=1)
        window = np.tile(self.window_mask().astype(float), self.group_size)
        return IterationSignals(input_steps, target, labels, window)

    def iteration_outcome(self, readout, readout_ids, timing) -> Outcome:
        """The example's loss per output, accuracy, and each sample's label and prediction."""
        signal, target = readout_by_sequence(readout, readout_ids, timing)  # (sample, output, step)
        window = self.window_mask()
        loss = mean_squared_error_loss(signal, target, window)
        labels = predicted_class(target, window)  # the labelled class has the larger mean target in the window
        predicted = predicted_class(signal, window)
        return Outcome(loss, {"accuracy": accuracy(predicted, labels)}, {"labels": labels, "predicted": predicted})


def mean_squared_error_loss(readout: np.ndarray, target: np.ndarray, window_mask: np.ndarray) -> np.ndarray:
    """Per output, the terms of NEST's example's loss: READOUT and TARGET are (sample, output, step);
    1/2 the sum over the window steps of the squared error, mean over samples, divided by the outputs.
    Their sum is the example's 0.5 * mean over outputs and samples of the window sums."""
    error = readout[..., window_mask] - target[..., window_mask]
    per_sample = 0.5 * np.sum(error**2, axis=2)  # (sample, output)
    return np.mean(per_sample, axis=0) / readout.shape[1]
