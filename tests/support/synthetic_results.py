"""Small synthetic results files with numbers chosen so that tests can predict every summary.

A run has 3 iterations of 10 steps of 1 ms (so an iteration lasts 10 ms = 0.01 s), 3 input,
4 recurrent and 2 readout neurons. In iteration k, output j's readout differs from its target by
the constant OFFSETS[j, k] on all 10 samples, so E_j(k) = 0.5 * 10 * OFFSETS[j, k]**2.
"""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import yaml

from eprop.results import ResultsWriter

STEPS = 10  # time steps per iteration
RESOLUTION_MS = 1.0  # ms
N_ITER = 3
INPUT = [1, 2, 3]
RECURRENT = [4, 5, 6, 7]
READOUT = [8, 9]
OFFSET_MS = 3.0  # ms, start of the first recorded sample; tests must not rely on it
OFFSETS = np.array([[1.0, 0.5, 0.1], [2.0, 1.0, 0.2]])  # readout - target per output and iteration
EXPECTED_LOSS_PER_OUTPUT = 0.5 * STEPS * OFFSETS**2  # [[5, 1.25, 0.05], [20, 5, 0.2]]
EXPECTED_LOSS = EXPECTED_LOSS_PER_OUTPUT.sum(axis=0)  # [25, 6.25, 0.25]
# spikes of each recurrent neuron per iteration (rows: iterations; columns: RECURRENT)
SPIKE_COUNTS = np.array([[1, 1, 1, 1], [3, 0, 2, 1], [2, 0, 1, 5]])
EXPECTED_LAST_RATES = SPIKE_COUNTS[-1] / (STEPS * RESOLUTION_MS / 1000.0)  # [200, 0, 100, 500] spikes/s
INPUT_SPIKES_PER_ITERATION = 3  # from input neuron 1, must not count as recurrent
F_TARGET = 20.0  # spikes/s
WEIGHT_DELTA = {"in_rec": 0.1, "rec_rec": -0.05, "rec_out": 0.2}  # pA added to every weight by training
# weight recorder events per iteration: (sender, target, weight) with repeated unchanged weights
RECORDED_PAIRS = {(1, 4): "in_rec", (4, 5): "rec_rec", (4, 8): "rec_out"}


def target_signal(output: int) -> np.ndarray:
    t = np.arange(STEPS)
    return np.sin(2 * np.pi * t / STEPS + output)


def initial_weights() -> dict[str, dict[str, np.ndarray]]:
    """Weight w = 0.01 * source + 0.001 * target (pA), all-to-all without autapses."""
    pops = {
        "in_rec": (INPUT, RECURRENT),
        "rec_rec": (RECURRENT, RECURRENT),
        "rec_out": (RECURRENT, READOUT),
        "out_rec": (READOUT, RECURRENT),
    }
    weights = {}
    for name, (sources, targets) in pops.items():
        pairs = [(s, t) for s in sources for t in targets if s != t]
        source = np.array([p[0] for p in pairs])
        target = np.array([p[1] for p in pairs])
        weights[name] = {"source": source, "target": target, "weight": 0.01 * source + 0.001 * target}
    return weights


def final_weights() -> dict[str, dict[str, np.ndarray]]:
    weights = initial_weights()
    for name, delta in WEIGHT_DELTA.items():
        weights[name]["weight"] = weights[name]["weight"] + delta
    return weights


def recorded_weight(pair: tuple[int, int], iteration: int) -> float:
    """The weight of a recorded synapse during iteration k (pA): initial + delta * (k + 1) / N_ITER."""
    w0 = 0.01 * pair[0] + 0.001 * pair[1]
    return w0 + WEIGHT_DELTA[RECORDED_PAIRS[pair]] * (iteration + 1) / N_ITER


def config(task: str = "handwriting") -> dict:
    return {"task": {"name": task, "n_iter": N_ITER}, "neuron": {"rec": {"f_target": F_TARGET}}}


def write_run(
    path: Path,
    overrides: list[str] | None = None,
    loss_scale: float = 1.0,
    status: str = "complete",
    recording: str = "tutorial",
    n_iter_done: int = N_ITER,
    task: str = "handwriting",
    attrs: dict | None = None,
    recorded: tuple[int, ...] | None = None,
) -> Path:
    """Write a synthetic results file; `loss_scale` multiplies the readout-target offsets squared.

    `attrs`: further root attributes (e.g. task_kind, display, error). `recorded`: the 0-based
    iterations whose events are written (a recording schedule); None: every iteration.
    A file with the same arguments was written before: a copy of it (the same bytes, much faster).
    """
    key = json.dumps(
        [overrides or [], loss_scale, status, recording, n_iter_done, task, attrs or {}, recorded], sort_keys=True
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    if key in _TEMPLATES and not path.exists():
        shutil.copyfile(_TEMPLATES[key], path)
        return path
    _write_run(path, overrides, loss_scale, status, recording, n_iter_done, task, attrs, recorded)
    _TEMPLATES[key] = _template_dir() / f"{len(_TEMPLATES)}.h5"
    shutil.copyfile(path, _TEMPLATES[key])
    return path


_TEMPLATES: dict[str, Path] = {}  # arguments of write_run (JSON) -> a private copy of the file it wrote
_TEMPLATE_DIR: list[Path] = []


def _template_dir() -> Path:
    if not _TEMPLATE_DIR:
        _TEMPLATE_DIR.append(Path(tempfile.mkdtemp(prefix="eprop_synthetic_")))
        atexit.register(shutil.rmtree, _TEMPLATE_DIR[0], True)
    return _TEMPLATE_DIR[0]


def _write_run(
    path: Path,
    overrides: list[str] | None,
    loss_scale: float,
    status: str,
    recording: str,
    n_iter_done: int,
    task: str,
    attrs: dict | None,
    recorded: tuple[int, ...] | None = None,
) -> None:
    attrs = {
        "n_iter": N_ITER,
        "config_yaml": yaml.safe_dump(config(task)),
        "overrides": overrides or [],
        "steps_per_sequence": STEPS,
        "resolution_ms": RESOLUTION_MS,
        "n_out": len(READOUT),
        "seed": 1,
        "nest_version": "3.10",
        "total_num_virtual_procs": 1,
        **(attrs or {}),
    }
    writer = ResultsWriter(path, n_out=len(READOUT), attrs=attrs)
    writer.write_array("target", np.array([target_signal(k) for k in range(len(READOUT))]))
    writer.write_neurons({"input": INPUT, "recurrent": RECURRENT, "readout": READOUT})
    writer.write_weights("initial", initial_weights())
    out_fields = ["senders", "times", "readout_signal", "target_signal"]
    if recording == "tutorial":
        out_fields += ["V_m", "readout_signal_unnorm", "error_signal"]
        writer.declare_recorder(
            "multimeter_rec",
            {
                f: ("i8" if f == "senders" else "f8")
                for f in [
                    "senders",
                    "times",
                    "V_m",
                    "surrogate_gradient",
                    "learning_signal",
                    "V_th_adapt",
                    "adaptation",
                ]
            },
        )
        writer.declare_recorder("weight_recorder", {"senders": "i8", "targets": "i8", "times": "f8", "weights": "f8"})
    writer.declare_recorder("multimeter_out", {f: ("i8" if f == "senders" else "f8") for f in out_fields})
    writer.declare_recorder("spike_recorder", {"senders": "i8", "times": "f8"})
    scale = np.sqrt(loss_scale)
    for k in range(n_iter_done):
        t0 = OFFSET_MS + k * STEPS * RESOLUTION_MS
        times = t0 + np.arange(STEPS) * RESOLUTION_MS
        events = {}
        out = {f: [] for f in out_fields}
        for j, sender in enumerate(READOUT):
            y_star = target_signal(j)
            y = y_star + scale * OFFSETS[j, k]
            columns = {
                "senders": np.full(STEPS, sender),
                "times": times,
                "readout_signal": y,
                "target_signal": y_star,
                "V_m": 10.0 * y,
                "readout_signal_unnorm": y,
                "error_signal": y - y_star,
            }
            for f in out_fields:
                out[f].append(columns[f])
        events["multimeter_out"] = {f: np.concatenate(v) for f, v in out.items()}
        spike_senders, spike_times = [], []
        if recording == "tutorial":
            spike_senders += [INPUT[0]] * INPUT_SPIKES_PER_ITERATION
            spike_times += list(t0 + np.arange(INPUT_SPIKES_PER_ITERATION))
        for neuron, count in zip(RECURRENT, SPIKE_COUNTS[k]):
            spike_senders += [neuron] * int(count)
            spike_times += list(t0 + 1 + np.arange(count))
        order = np.argsort(spike_times, kind="stable")
        events["spike_recorder"] = {
            "senders": np.array(spike_senders, dtype="i8")[order],
            "times": np.array(spike_times, dtype="f8")[order],
        }
        if recording == "tutorial":
            events["multimeter_rec"] = {
                "senders": np.full(STEPS, RECURRENT[0]),
                "times": times,
                "V_m": np.linspace(0, 1, STEPS) + k,
                "surrogate_gradient": np.full(STEPS, 0.1 * k),
                "learning_signal": np.full(STEPS, -1.0 * k),
                "V_th_adapt": np.full(STEPS, 0.03 + k),
                "adaptation": np.full(STEPS, 0.01 * k),
            }
            wr = {"senders": [], "targets": [], "times": [], "weights": []}
            for sender, target in RECORDED_PAIRS:
                for s in (2, 5, 8):  # three transmissions per iteration, same weight each time
                    wr["senders"].append(sender)
                    wr["targets"].append(target)
                    wr["times"].append(t0 + s)
                    wr["weights"].append(recorded_weight((sender, target), k))
            order = np.argsort(wr["times"], kind="stable")
            events["weight_recorder"] = {key: np.asarray(v)[order] for key, v in wr.items()}
        writer.append_iteration(
            loss_scale * EXPECTED_LOSS_PER_OUTPUT[:, k], events, write_events=recorded is None or k in recorded
        )
    if status != "running":
        writer.write_weights("final", final_weights())
        writer.finish(
            status, {"timing_build_s": 1.5, "timing_simulate_s": 10.0, "timing_write_s": 0.5, "peak_rss_mb": 321.0}
        )
    writer.close()


# ---------------------------------------------------------------- classification runs
#
# A classification run of len(CORRECT) iterations of BATCH sequences of STEPS steps; the learning
# (recall) window is the last WINDOW steps. Labels are LABELS in every iteration; in iteration k the
# first BATCH - CORRECT[k] sequences are predicted wrong (the other class). In the window the readout
# gives 0.8 to the predicted class and 0.2 to the other, so the cross-entropy of iteration k is
# (CORRECT[k] * -log 0.8 + (BATCH - CORRECT[k]) * -log 0.2) / BATCH. Outside the window readout and
# target signals are 0 (as NEST records them). /phase holds PHASES (the schedule of
# docs/evidence_accumulation.md: 1 0 0 0 1 2 2 0 3 3).

BATCH = 4
WINDOW = 3  # steps
LABELS = np.array([0, 1, 0, 1])
CORRECT = [1, 2, 3, 4, 2, 3, 4, 4, 3, 1]  # sequences predicted right per iteration
PHASES = [1, 0, 0, 0, 1, 2, 2, 0, 3, 3]  # 0 training, 1 validation, 2 early stopping, 3 test
PHASE_NAMES = ["training", "validation", "early_stopping", "test"]
INPUT_GROUPS = [["left cue", 2], ["right cue", 2], ["recall", 2], ["noise", 2]]
CLASS_INPUT = list(range(1, 9))  # 8 input neurons, 2 per group
CLASS_RECURRENT = [11, 12, 13, 14]
CLASS_READOUT = [21, 22]
READOUT_DELAY_MS = (
    5.0  # ms from a sequence's step 0 to its first readout sample, as NEST stamps it (input spikes: 1 ms)
)


def predictions(correct: int) -> np.ndarray:
    predicted = LABELS.copy()
    predicted[: BATCH - correct] = 1 - predicted[: BATCH - correct]
    return predicted


def classification_loss(correct: int) -> float:
    return (correct * -np.log(0.8) + (BATCH - correct) * -np.log(0.2)) / BATCH


def write_classification_run(
    path: Path, correct: list[int] | None = None, phases: list[int] | None = PHASES, overrides: list[str] | None = None
) -> Path:
    """A synthetic classification results file (see above); `phases` None: no /phase (all training)."""
    import h5py

    correct = CORRECT if correct is None else correct
    steps = STEPS
    attrs = {
        "n_iter": len(correct),
        "overrides": overrides or [],
        "n_out": 2,
        "batch_size": BATCH,
        "config_yaml": yaml.safe_dump(
            {
                "task": {
                    "name": "evidence_accumulation",
                    "n_iter": len(correct),
                    "offset_gen": 1,
                    "delay_in_rec": 1,
                    "delay_rec_out": 1,
                    "delay_out_norm": 1,
                },
                "neuron": {"rec": {"f_target": F_TARGET}},
            }
        ),
        "steps_per_sequence": steps,
        "resolution_ms": RESOLUTION_MS,
        "learning_window_steps": WINDOW,
        "task_kind": "classification",
        "seed": 1,
        "nest_version": "3.10",
        "total_num_virtual_procs": 1,
        "display": {"classes": ["left", "right"], "learning_window_steps": WINDOW, "input_groups": INPUT_GROUPS},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = ResultsWriter(path, n_out=2, attrs=attrs)
    writer.write_neurons({"input": CLASS_INPUT, "recurrent": CLASS_RECURRENT, "readout": CLASS_READOUT})
    writer.declare_iteration_metrics(
        ("accuracy",), ("labels", "predicted"), BATCH, loss_units=writer.CLASSIFICATION_LOSS
    )
    out_fields = ["senders", "times", "V_m", "readout_signal", "target_signal", "error_signal"]
    writer.declare_recorder("multimeter_out", {f: ("i8" if f == "senders" else "f8") for f in out_fields})
    writer.declare_recorder("spike_recorder", {"senders": "i8", "times": "f8"})
    in_window = np.arange(steps) >= steps - WINDOW
    for k, c in enumerate(correct):
        predicted = predictions(c)
        out = {f: [] for f in out_fields}
        spikes = {"senders": [], "times": []}
        loss = np.zeros(2)
        for j, sender in enumerate(CLASS_READOUT):
            for b in range(BATCH):
                start = (k * BATCH + b) * steps * RESOLUTION_MS  # ms, step 0 of the sequence
                y = np.where(in_window, 0.8 if predicted[b] == j else 0.2, 0.0)
                y_star = np.where(in_window, 1.0 if LABELS[b] == j else 0.0, 0.0)
                out["senders"].append(np.full(steps, sender))
                out["times"].append(start + READOUT_DELAY_MS + np.arange(steps) * RESOLUTION_MS)
                for name, values in (
                    ("V_m", y),
                    ("readout_signal", y),
                    ("target_signal", y_star),
                    ("error_signal", y - y_star),
                ):
                    out[name].append(values)
                if LABELS[b] == j:
                    loss[j] -= np.log(0.8 if predicted[b] == j else 0.2) / BATCH
        for b in range(BATCH):
            start = (k * BATCH + b) * steps * RESOLUTION_MS
            for i, neuron in enumerate(CLASS_INPUT):  # input neuron i spikes at step i + 1 of every sequence
                spikes["senders"].append(neuron)
                spikes["times"].append(start + i + 2.0)
            for neuron in CLASS_RECURRENT:
                spikes["senders"].append(neuron)
                spikes["times"].append(start + 3.0)
        order = np.argsort(spikes["times"], kind="stable")
        events = {
            "multimeter_out": {f: np.concatenate(v) for f, v in out.items()},
            "spike_recorder": {key: np.asarray(v)[order] for key, v in spikes.items()},
        }
        writer.append_iteration(
            loss, events, metrics={"accuracy": c / BATCH}, per_sequence={"labels": LABELS, "predicted": predicted}
        )
    writer.write_weights("initial", {})
    writer.finish(
        "complete", {"timing_build_s": 1.0, "timing_simulate_s": 2.0, "timing_write_s": 0.5, "peak_rss_mb": 100.0}
    )
    writer.close()
    if phases is not None:
        with h5py.File(path, "r+") as f:
            if "phase" in f:  # a writer that writes /phase itself (contract 2): replaced by the known phases
                del f["phase"]
            f.create_dataset("phase", data=np.asarray(phases, dtype="i1"))
            f.attrs["phase_names"] = json.dumps(PHASE_NAMES)
    return path


# ---------------------------------------------------------------- N-MNIST-like runs (ten classes, input frames)
#
# The layout the nmnist task writes (event-based family): 10 readouts with squared-error loss on one-hot targets
# over a learning window of NM_WINDOW steps at the end of each sample of NM_STEPS steps; NM_GROUP samples per
# iteration; /input_pixel maps input neuron i to pixel polarity * 34 * 34 + y * 34 + x; display names the classes
# and input_image_shape [2, 34, 34]. Timing of model=eprop (delay_in_rec 1, no readout delays): the input (parrot)
# spike of sample b's step i in iteration k is at (1 + k * NM_GROUP * NM_STEPS + b * NM_STEPS + i) ms, the readout
# samples of that sample at (2 + ... + i + 1) ms, so the inputs lead the readout by 2 ms.
#
# Kept pixels: the 26 x 26 centre (x, y in 4..29) of both polarities, except NM_BLOCKED_EXTRA; input neurons are
# the kept pixels in ascending pixel order, node ids 1..n_in. Labels: sample b of iteration k has label
# (k * NM_GROUP + b) % 10; it is predicted right unless b < NM_WRONG[k], then predicted (label + 1) % 10.
# The events of a sample: `nmnist_sample_spikes(k, b)`, two in each kept pixel of a bar (rows 6 + 2 * label and
# 7 + 2 * label, columns 8..25, both polarities) plus 40 in seeded random kept pixels.

NM_STEPS = 30  # steps of 1 ms per sample
NM_WINDOW = 5  # steps, learning window at the end of each sample
NM_GROUP = 4  # samples per iteration
NM_CLASSES = 10
NM_PHASES = [0, 0, 1, 0, 0, 3, 3]  # training x2, validation, training x2, test x2
NM_WRONG = [4, 3, 2, 2, 1, 1, 2]  # samples predicted wrong per iteration (the first ones)
NM_BLOCKED_EXTRA = (1 * 34 * 34 + 17 * 34 + 17,)  # one more blocked pixel: ON at (x=17, y=17)
NM_N_REC = 4


def nmnist_kept_pixels() -> np.ndarray:
    pixels = [p * 34 * 34 + y * 34 + x for p in (0, 1) for y in range(4, 30) for x in range(4, 30)]
    return np.array(sorted(set(pixels) - set(NM_BLOCKED_EXTRA)), dtype=np.int64)


def nmnist_label(k: int, b: int) -> int:
    return (k * NM_GROUP + b) % NM_CLASSES


def nmnist_predicted(k: int, b: int) -> int:
    label = nmnist_label(k, b)
    return (label + 1) % NM_CLASSES if b < NM_WRONG[k] else label


def nmnist_sample_spikes(k: int, b: int) -> tuple[np.ndarray, np.ndarray]:
    """(input neuron index, step within the sample) of every recorded input spike of sample b of iteration k."""
    rng = np.random.RandomState(1000 * k + b)
    kept = nmnist_kept_pixels()
    label = nmnist_label(k, b)
    bar = [p * 34 * 34 + y * 34 + x for p in (0, 1) for y in (6 + 2 * label, 7 + 2 * label) for x in range(8, 26)]
    bar = np.setdiff1d(bar, NM_BLOCKED_EXTRA)
    pixels = np.concatenate([np.repeat(bar, 2), rng.choice(kept, 40)])  # two events per bar pixel, 40 scattered
    inputs = np.searchsorted(kept, pixels)
    assert np.array_equal(kept[inputs], pixels)
    steps = rng.randint(0, NM_STEPS, inputs.size)
    return inputs, steps


def nmnist_readout(k: int, b: int, j: int) -> np.ndarray:
    """Readout signal of output j in sample b of iteration k: 0.1 before the window; in it 0.8 for the predicted
    class, 0.4 for the label (if predicted wrong), 0.1 + 0.01 j otherwise."""
    y = np.full(NM_STEPS, 0.1)
    level = 0.8 if j == nmnist_predicted(k, b) else (0.4 if j == nmnist_label(k, b) else 0.1 + 0.01 * j)
    y[-NM_WINDOW:] = level
    return y


def nmnist_loss(k: int) -> np.ndarray:
    """Loss per output of iteration k: 0.5 * window sum of (y - y*)^2, mean over samples, / n_out."""
    loss = np.zeros(NM_CLASSES)
    for j in range(NM_CLASSES):
        for b in range(NM_GROUP):
            target = 1.0 if j == nmnist_label(k, b) else 0.0
            loss[j] += 0.5 * np.sum((nmnist_readout(k, b, j)[-NM_WINDOW:] - target) ** 2) / NM_GROUP / NM_CLASSES
    return loss


def write_nmnist_run(
    path: Path, record_input_spikes: bool = True, n_iter: int | None = None, display: dict | None = None
) -> Path:
    """A synthetic N-MNIST-like classification results file (see above); `n_iter` iterations of NM_PHASES."""
    import h5py

    n_iter = len(NM_PHASES) if n_iter is None else n_iter
    kept = nmnist_kept_pixels()
    n_in = kept.size
    inputs = np.arange(1, n_in + 1)
    recurrent = np.arange(n_in + 1, n_in + 1 + NM_N_REC)
    readout = np.arange(recurrent[-1] + 1, recurrent[-1] + 1 + NM_CLASSES)
    iteration_steps = NM_GROUP * NM_STEPS
    attrs = {
        "n_iter": n_iter,
        "overrides": ["task=nmnist"],
        "n_out": NM_CLASSES,
        "batch_size": NM_GROUP,
        "config_yaml": yaml.safe_dump(
            {
                "task": {
                    "name": "nmnist",
                    "target": "nmnist",
                    "n_iter": n_iter,
                    "group_size": NM_GROUP,
                    "offset_gen": 1,
                    "delay_in_rec": 1,
                    "delay_rec_out": 0,
                    "delay_out_norm": 0,
                },
                "neuron": {"rec": {"f_target": 10.0}, "readout": {"loss": None}},
                "recording": {"spikes_input": record_input_spikes},
            }
        ),
        "steps_per_sequence": NM_STEPS,
        "resolution_ms": RESOLUTION_MS,
        "learning_window_steps": NM_WINDOW,
        "task_kind": "classification",
        "seed": 1,
        "nest_version": "3.10",
        "total_num_virtual_procs": 1,
        "display": display
        if display is not None
        else {
            "classes": [str(c) for c in range(NM_CLASSES)],
            "learning_window_steps": NM_WINDOW,
            "input_image_shape": [2, 34, 34],
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = ResultsWriter(path, n_out=NM_CLASSES, attrs=attrs)
    writer.write_neurons({"input": inputs, "recurrent": recurrent, "readout": readout})
    writer.write_array("input_pixel", kept)
    writer.declare_iteration_metrics(("accuracy",), ("labels", "predicted"), NM_GROUP)
    out_fields = ["senders", "times", "V_m", "readout_signal", "target_signal"]
    writer.declare_recorder("multimeter_out", {f: ("i8" if f == "senders" else "f8") for f in out_fields})
    writer.declare_recorder("spike_recorder", {"senders": "i8", "times": "f8"})
    for k in range(n_iter):
        out = {f: [] for f in out_fields}
        senders, times = [], []
        for j, node in enumerate(readout):
            for b in range(NM_GROUP):
                start = k * iteration_steps + b * NM_STEPS
                y = nmnist_readout(k, b, j)
                out["senders"].append(np.full(NM_STEPS, node))
                out["times"].append((2 + start + np.arange(NM_STEPS) + 1) * RESOLUTION_MS)
                out["V_m"].append(y)
                out["readout_signal"].append(y)
                out["target_signal"].append(np.full(NM_STEPS, 1.0 if j == nmnist_label(k, b) else 0.0))
        for b in range(NM_GROUP):
            start = k * iteration_steps + b * NM_STEPS
            if record_input_spikes:
                index, steps = nmnist_sample_spikes(k, b)
                senders.append(inputs[index])
                times.append((1 + start + steps) * RESOLUTION_MS)
            senders.append(recurrent)
            times.append(np.full(recurrent.size, (1 + start + 5) * RESOLUTION_MS))
        senders, times = np.concatenate(senders), np.concatenate(times)
        order = np.argsort(times, kind="stable")
        labels = np.array([nmnist_label(k, b) for b in range(NM_GROUP)])
        predicted = np.array([nmnist_predicted(k, b) for b in range(NM_GROUP)])
        events = {
            "multimeter_out": {f: np.concatenate(v) for f, v in out.items()},
            "spike_recorder": {"senders": senders[order].astype("i8"), "times": times[order]},
        }
        writer.append_iteration(
            nmnist_loss(k),
            events,
            metrics={"accuracy": float(np.mean(labels == predicted))},
            per_sequence={"labels": labels, "predicted": predicted},
        )
    writer.write_weights("initial", {})
    writer.finish(
        "complete", {"timing_build_s": 1.0, "timing_simulate_s": 2.0, "timing_write_s": 0.5, "peak_rss_mb": 100.0}
    )
    writer.close()
    with h5py.File(path, "r+") as f:
        f.create_dataset("phase", data=np.asarray(NM_PHASES[:n_iter], dtype="i1"))
        f.attrs["phase_names"] = json.dumps(PHASE_NAMES)
    return path
