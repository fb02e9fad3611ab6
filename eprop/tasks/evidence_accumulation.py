"""Evidence accumulation (Bellec et al. 2020): inputs, labels, loss and accuracy, in pure numpy.

A sequence shows 7 cues, each on the left or the right input population; after a pause, a
recall population fires and the network must report the side that got more cues. The draws
follow NEST 3.10's `test_eprop_classification` and its evidence-accumulation example exactly
(same numpy calls in the same order), so a run seeded like them gives their inputs bit for bit.
See docs/evidence_accumulation.md for every number and the full draw order.

Draw order from one `np.random.RandomState(seed)`:

1. initial weights (`draw_initial_weights`): in->rec, rec->rec, rec->out (Glorot uniform),
   out->rec (feedback);
2. per iteration (`draw_iteration`), for the whole batch at once: the majority side of every
   sequence, then each sequence's cue sides, then one uniform number per (sequence, step,
   input neuron) for the spike raster.

Units: times in ms, probabilities per time step, weights in pA. NEST is not imported here.
The task's config keys (task.n_cues, ...) are `EvidenceAccumulationConfig`, beside the Task below.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LEFT, RIGHT, RECALL, NOISE = range(4)  # input populations, in the order of the input neurons
INPUT_GROUP_NAMES = ("left cue", "right cue", "recall", "noise")  # their names in figures


@dataclass(frozen=True)
class EvidenceAccumulationParams:
    """The task's numbers (defaults: NEST's example and test)."""

    n_cues: int = 7  # cues per sequence
    cue_ms: float = 100.0  # ms, duration of one cue
    spacing_ms: float = 50.0  # ms, silence before each cue
    bg_noise_ms: float = 1050.0  # ms, between the last cue and the recall window
    recall_ms: float = 150.0  # ms, recall window = learning window
    n_per_population: int = 10  # input neurons in each of the 4 populations
    cue_spike_prob: float = 0.04  # per step, a cue population while its cue is shown
    recall_spike_prob: float = 0.04  # per step, the recall population in the recall window
    noise_spike_prob: float = 0.01  # per step, the noise population throughout
    prob_group: float = 0.3  # probability that a cue is on the minority side
    resolution_ms: float = 1.0  # ms, one time step

    def steps(self, duration_ms: float) -> int:
        """Whole steps in DURATION_MS (a ValueError if it is not a multiple of the resolution)."""
        n = round(duration_ms / self.resolution_ms)
        if not np.isclose(n * self.resolution_ms, duration_ms):
            raise ValueError(f"{duration_ms} ms is not a multiple of the resolution {self.resolution_ms} ms")
        return n

    @property
    def n_in(self) -> int:
        return 4 * self.n_per_population

    @property
    def sequence_ms(self) -> float:
        return self.n_cues * (self.cue_ms + self.spacing_ms) + self.bg_noise_ms + self.recall_ms

    @property
    def sequence_steps(self) -> int:
        return self.steps(self.sequence_ms)

    @property
    def recall_steps(self) -> int:
        return self.steps(self.recall_ms)

    def cue_onset_steps(self) -> np.ndarray:
        """Step (from the sequence start) at which each cue begins: 50, 200, ..., 950 by default."""
        period = self.steps(self.cue_ms + self.spacing_ms)
        return np.arange(self.n_cues) * period + self.steps(self.spacing_ms)

    def recall_window(self) -> np.ndarray:
        """(sequence_steps,) bool: True in the recall window, the last `recall_ms` of a sequence."""
        mask = np.zeros(self.sequence_steps, dtype=bool)
        mask[self.sequence_steps - self.recall_steps :] = True
        return mask


@dataclass(frozen=True)
class IterationDraw:
    """One iteration's sequences."""

    spikes: np.ndarray  # (batch, step, input neuron) bool; step 0 of every sequence is empty
    cues: np.ndarray  # (batch, cue) int, LEFT (0) or RIGHT (1)
    majority: np.ndarray  # (batch,) int, the side each cue takes with probability 1 - prob_group
    labels: np.ndarray  # (batch,) int, RIGHT if more than half of the cues are right, else LEFT


def glorot_uniform(rng: np.random.RandomState, fan_in: int, fan_out: int) -> np.ndarray:
    """(fan_in, fan_out) draws, uniform in +-sqrt(3 / max(1, (fan_in + fan_out) / 2))."""
    limit = np.sqrt(3.0 / max(1.0, (fan_in + fan_out) / 2.0))
    return rng.uniform(low=-limit, high=limit, size=(fan_in, fan_out))


def draw_initial_weights(rng: np.random.RandomState, n_in: int, n_rec: int, n_out: int) -> dict[str, np.ndarray]:
    """Initial weights (pA, float32, shaped (post, pre)) in NEST's draw order.

    in_rec ~ N(0, 1) / sqrt(n_in); rec_rec ~ N(0, 1) / sqrt(n_rec) with a zero diagonal (the
    diagonal is drawn and discarded); rec_out Glorot uniform; out_rec ~ N(0, 1), not scaled.
    """
    in_rec = np.array(rng.randn(n_in, n_rec).T / np.sqrt(n_in), dtype=np.float32)
    rec_rec = np.array(rng.randn(n_rec, n_rec).T / np.sqrt(n_rec), dtype=np.float32)
    np.fill_diagonal(rec_rec, 0.0)
    rec_out = np.array(glorot_uniform(rng, n_rec, n_out).T, dtype=np.float32)
    out_rec = np.array(rng.randn(n_rec, n_out), dtype=np.float32)
    return {"in_rec": in_rec, "rec_rec": rec_rec, "rec_out": rec_out, "out_rec": out_rec}


def draw_cues(
    rng: np.random.RandomState, batch_size: int, params: EvidenceAccumulationParams
) -> tuple[np.ndarray, np.ndarray]:
    """(majority (batch,), cues (batch, n_cues)): draws 1 and 2 of an iteration.

    The side probabilities are float32, as in NEST's scripts: numpy's `choice` turns them into
    0.30000001192092896 and 0.699999988079071, and that changes which side some draws give.
    """
    minority_first = rng.choice([0, 1], batch_size)  # 0: left has prob_group, 1: left has 1 - prob_group
    side_probs = np.array([params.prob_group, 1.0 - params.prob_group], dtype=np.float32)
    cues = np.empty((batch_size, params.n_cues), dtype=int)
    for b in range(batch_size):
        p = np.array([side_probs[minority_first[b]], side_probs[1 - minority_first[b]]], dtype=np.float32)
        cues[b] = rng.choice([LEFT, RIGHT], params.n_cues, p=p)
    return 1 - minority_first, cues


def spike_probabilities(cues: np.ndarray, params: EvidenceAccumulationParams) -> np.ndarray:
    """(batch, step, input neuron) spike probability per step for the given cue sides."""
    n_pop, cue_steps = params.n_per_population, params.steps(params.cue_ms)
    probs = np.zeros((len(cues), params.sequence_steps, params.n_in))
    for c, onset in enumerate(params.cue_onset_steps()):
        for side in (LEFT, RIGHT):
            shown = cues[:, c] == side
            probs[shown, onset : onset + cue_steps, side * n_pop : (side + 1) * n_pop] = params.cue_spike_prob
    probs[:, -params.recall_steps :, RECALL * n_pop : (RECALL + 1) * n_pop] = params.recall_spike_prob
    probs[:, :, NOISE * n_pop :] = params.noise_spike_prob
    return probs


def draw_iteration(rng: np.random.RandomState, batch_size: int, params: EvidenceAccumulationParams) -> IterationDraw:
    """Draw one iteration's BATCH_SIZE sequences: cues, labels and input spikes."""
    majority, cues = draw_cues(rng, batch_size, params)
    probs = spike_probabilities(cues, params)
    spikes = probs > rng.random_sample(probs.shape)
    spikes[:, 0, :] = False  # NEST's scripts keep the first step of every sequence silent
    labels = (cues.sum(axis=1) > params.n_cues // 2).astype(int)
    return IterationDraw(spikes=spikes, cues=cues, majority=majority, labels=labels)


def spike_times(spikes: np.ndarray, first_time_ms: float, resolution_ms: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(senders, times_ms) of a (sequence, step, neuron) raster laid end to end from FIRST_TIME_MS.

    Senders are input-neuron indices; the result is sorted by sender, then time. NEST's scripts
    put step t of the iteration at offset + t ms with offset = 1 ms (generators emit from step 1).
    Times are float64; NEST's scripts hand float32 to NEST, which is the same up to 2**24 ms.
    """
    flat = spikes.reshape(-1, spikes.shape[-1])
    step, sender = np.nonzero(flat)
    order = np.lexsort((step, sender))
    return sender[order], first_time_ms + step[order] * resolution_ms


def one_hot_targets(labels: np.ndarray, n_out: int) -> np.ndarray:
    """(n_out, batch) target rates: 1 for the labelled class of each sequence, else 0."""
    targets = np.zeros((n_out, len(labels)))
    targets[labels, np.arange(len(labels))] = 1.0
    return targets


def cross_entropy_loss(readout: np.ndarray, target: np.ndarray, window_mask: np.ndarray) -> float:
    """Cross-entropy of one iteration, as NEST's test computes it.

    READOUT and TARGET are (batch, output, step) normalised readout signals and target rates;
    WINDOW_MASK (step,) selects the learning window. Returns the mean over sequences and window
    steps of -sum over outputs of target * log(readout).
    """
    r, t = readout[..., window_mask], target[..., window_mask]
    return float(-np.mean(np.sum(t * np.log(r), axis=1)))


NO_PREDICTION = -1  # the predicted class of a tie: stored in /predicted, counted wrong


def predicted_class(readout: np.ndarray, window_mask: np.ndarray) -> np.ndarray:
    """(batch,) the output whose readout signal averaged over the window is the largest (the example's
    argmax), or NO_PREDICTION (-1) where several outputs share the largest mean: a tie, such as the
    equal readouts of a silent network, is no prediction (the example's argmax takes it for class 0,
    an accuracy the network did not earn). `accuracy` counts it wrong."""
    means = np.mean(readout[..., window_mask], axis=-1)
    predicted = np.argmax(means, axis=1)
    tied = np.count_nonzero(means == means.max(axis=1, keepdims=True), axis=1) > 1
    predicted[tied] = NO_PREDICTION
    return predicted


def accuracy(predicted: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of sequences whose predicted class is the label (the example's error is 1 - this); a
    tie (NO_PREDICTION) is wrong."""
    predicted = np.asarray(predicted)
    return float(np.mean((predicted == np.asarray(labels)) & (predicted != NO_PREDICTION)))


# ---------------------------------------------------------------------------- the Task

from eprop.config.fields import TaskConfig, param  # noqa: E402
from eprop.errors import UserError  # noqa: E402
from eprop.tasks.base import IterationSignals, Outcome, Task, readout_by_sequence  # noqa: E402


@dataclass
class EvidenceAccumulationConfig(TaskConfig):
    """The task's keys: the keys of every task (config.fields.TaskConfig) and the numbers of
    EvidenceAccumulationParams (defaults: NEST's example)."""

    n_cues: int = param(7, "evidence_accumulation: cues per sequence", min_int=1)
    cue_ms: float = param(100.0, "evidence_accumulation: duration of one cue", unit="ms", positive=True)
    spacing_ms: float = param(50.0, "evidence_accumulation: silence before each cue", unit="ms", positive=True)
    bg_noise_ms: float = param(
        1050.0,
        "evidence_accumulation: background noise between the last cue and the recall window",
        unit="ms",
        positive=True,
    )
    recall_ms: float = param(
        150.0,
        "evidence_accumulation: recall window at the end of each sequence (= NEST's eprop_learning_window)",
        unit="ms",
        positive=True,
    )
    n_per_population: int = param(
        10,
        "evidence_accumulation: input neurons in each of the 4 populations (left cue, right cue, recall, noise)",
        min_int=1,
    )
    cue_spike_prob: float = param(
        0.04,
        "evidence_accumulation: spike probability per time step of a cue population while its cue is shown",
        probability=True,
    )
    recall_spike_prob: float = param(
        0.04,
        "evidence_accumulation: spike probability per time step of the recall population in the recall window",
        probability=True,
    )
    noise_spike_prob: float = param(
        0.01,
        "evidence_accumulation: spike probability per time step of the noise population, throughout",
        probability=True,
    )
    prob_group: float = param(
        0.3, "evidence_accumulation: probability that a cue lands on the minority side", probability=True
    )


_DURATIONS = ("cue_ms", "spacing_ms", "bg_noise_ms", "recall_ms")


def params_from_config(cfg) -> EvidenceAccumulationParams:
    """The task's numbers from the task.* keys (units as in EvidenceAccumulationParams) and kernel.resolution."""
    t = cfg.task
    return EvidenceAccumulationParams(
        n_cues=int(t.n_cues),
        cue_ms=float(t.cue_ms),
        spacing_ms=float(t.spacing_ms),
        bg_noise_ms=float(t.bg_noise_ms),
        recall_ms=float(t.recall_ms),
        n_per_population=int(t.n_per_population),
        cue_spike_prob=float(t.cue_spike_prob),
        recall_spike_prob=float(t.recall_spike_prob),
        noise_spike_prob=float(t.noise_spike_prob),
        prob_group=float(t.prob_group),
        resolution_ms=float(cfg.kernel.resolution),
    )


class EvidenceAccumulation(Task):
    """Classification: which side showed more cues. Two outputs (left, right), cross-entropy in the recall window.

    Draws: `draw(rng)` keeps the run's RandomState (after the initial weights); iteration k's
    cues and spikes are drawn when the training loop first asks for its signals, in increasing
    k, so the stream is NEST's (the test draws all iterations first, the example one at a time:
    the same numbers, since NEST draws nothing). A resumed run first draws, and drops, the
    iterations its parents ran (`start_at`).
    """

    kind = "classification"
    readout_loss = "cross_entropy"
    config_schema = EvidenceAccumulationConfig
    n_classes = 2  # left, right
    metric_names = ("accuracy",)
    per_sequence_names = ("labels", "predicted")

    def __init__(self, cfg) -> None:
        super().__init__(cfg)
        self.params = params_from_config(cfg)
        self.batch_size = int(cfg.task.batch_size)
        self._rng: np.random.RandomState | None = None
        self._next = 0  # the next iteration to draw

    def check(self, cfg) -> None:
        t = cfg.task  # signs, probabilities and counts are the schema's bounds (validation.py)
        for key in _DURATIONS:
            try:
                self.params.steps(t[key])
            except ValueError:
                raise UserError(
                    f"task.{key}={t[key]}: must be a whole number of time steps of kernel.resolution={cfg.kernel.resolution} ms"
                )
        if t.n_in != self.params.n_in:
            raise UserError(
                f"task.n_in={t.n_in}: must be 4 x task.n_per_population = {self.params.n_in} "
                "(left cue, right cue, recall, noise)"
            )
        if t.sequence_steps is not None and t.sequence_steps != self.params.sequence_steps:
            raise UserError(
                f"task.sequence_steps={t.sequence_steps}: the cues, noise and recall window give "
                f"{self.params.sequence_steps} steps; leave it null"
            )

    @property
    def n_inputs(self) -> int:
        return self.params.n_in

    @property
    def n_outputs(self) -> int:
        return self.n_classes

    @property
    def sequence_steps(self) -> int:
        return self.params.sequence_steps

    @property
    def learning_window_steps(self) -> int:
        return self.params.recall_steps

    def declare_results(self, writer) -> None:
        """/accuracy, /labels, /predicted; /loss is the cross-entropy (its units and description say so)."""
        writer.declare_iteration_metrics(
            self.metric_names, self.per_sequence_names, self.batch_size, loss_units=writer.CLASSIFICATION_LOSS
        )

    def results_attrs(self) -> dict:
        """Also the learning window (steps at the end of each sequence), which eval needs to rescore a run, and
        the input populations in the order of the input neurons (`display.input_groups`, [name, size] each)."""
        n = self.params.n_per_population
        return {
            **super().results_attrs(),
            "learning_window_steps": self.learning_window_steps,
            "display": {
                "classes": ["left", "right"],
                "learning_window_steps": self.learning_window_steps,
                "input_groups": [[name, n] for name in INPUT_GROUP_NAMES],
            },
        }

    def draw(self, rng: np.random.RandomState) -> None:
        self._rng, self._next = rng, 0

    def check_model_family(self, cfg) -> None:
        if cfg.model.family != "bsshslm_2020":
            raise UserError(
                f"task.target={cfg.task.target}: a classification task needs a learning window, which "
                f"model={cfg.model.family} does not have here; use model=bsshslm_2020"
            )

    def start_at(self, first_iteration: int, phases=()) -> None:
        for _ in range(first_iteration):
            draw_iteration(self._rng, self.batch_size, self.params)
        self._next = 0

    def iteration_signals(self, k: int, phase: int = 0) -> IterationSignals:
        if k != self._next:
            raise RuntimeError(
                f"evidence accumulation: iteration {k} asked for, {self._next} is next (draws are in order)"
            )
        self._next += 1
        d = draw_iteration(self._rng, self.batch_size, self.params)
        flat = d.spikes.reshape(-1, self.params.n_in)  # (iteration step, input neuron)
        input_steps = [np.flatnonzero(flat[:, i]).astype(float) for i in range(self.params.n_in)]
        target = np.repeat(one_hot_targets(d.labels, self.n_classes), self.params.sequence_steps, axis=1)
        return IterationSignals(input_steps, target, d.labels)

    def iteration_outcome(self, readout, readout_ids, timing) -> Outcome:
        """Cross-entropy per output over the recall windows; accuracy; labels and predictions per sequence."""
        signal, target = readout_by_sequence(readout, readout_ids, timing)  # (batch, output, step)
        window = self.params.recall_window()
        with np.errstate(divide="ignore", invalid="ignore"):
            loss = 0.0 - np.mean(
                target[..., window] * np.log(signal[..., window]), axis=(0, 2)
            )  # per output (0.0 -: no -0); sums to NEST's loss
        labels = predicted_class(target, window)  # the labelled class has the larger mean target in the window
        predicted = predicted_class(signal, window)
        return Outcome(loss, {"accuracy": accuracy(predicted, labels)}, {"labels": labels, "predicted": predicted})
