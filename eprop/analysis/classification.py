"""Classification summaries of one run: which iterations the final accuracy comes from (the
test phase, else the last training iterations), and accuracy, error and loss per phase.

Every function here takes an open `Results` and returns plain data; nothing prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from eprop.config.phases import TEST, TRAINING
from eprop.results import LossHistory, Results
from eprop.results.iterations import phase_name

LAST_ITERATIONS = (
    10  # without a test phase: the final accuracy and the confusion matrix use the last 10 training iterations
)


def phase_names(results: Results) -> list[str]:
    """The names of the phase codes of /phase: the root attribute phase_names, else eprop/config/phases.py's."""
    return results.phase_names


@dataclass(frozen=True)
class FinalIterations:
    """The iterations the final accuracy and the confusion matrix come from (0-based indices into
    the phases they were chosen from: this file's, or a resumed run's whole history)."""

    indices: np.ndarray
    phase: str  # "test", or "training" when the run has no test phase
    description: str  # for a person: "test phase, 4 iterations" or "last 10 training iterations (no test phase)"


def final_iterations(results: Results, phases: np.ndarray | None = None) -> FinalIterations:
    """The test phase's iterations; without a test phase, the last LAST_ITERATIONS training iterations
    (the last LAST_ITERATIONS iterations of any phase if there was no training iteration either).
    `phases`: the phase codes to choose from (default: this file's, `results.phases()`)."""
    phases = results.phases() if phases is None else phases
    names = phase_names(results)
    test = np.flatnonzero(phases == TEST)
    if test.size:
        return FinalIterations(test, phase_name(names, TEST), f"test phase, {_iterations(test.size)}")
    training = np.flatnonzero(phases == TRAINING)
    if training.size:
        chosen = training[-LAST_ITERATIONS:]
        return FinalIterations(
            chosen, phase_name(names, TRAINING), f"last {_iterations(chosen.size, 'training ')} (no test phase)"
        )
    chosen = np.arange(len(phases))[-LAST_ITERATIONS:]
    return FinalIterations(chosen, "any", f"last {_iterations(chosen.size)} (no test or training phase)")


def _iterations(n: int, kind: str = "") -> str:
    return f"{n} {kind}iteration{'s' if n != 1 else ''}"


def classification_summary(results: Results, history: LossHistory | None = None) -> dict[str, Any]:
    """Classification: accuracy per iteration and per phase, the final (test) accuracy; {} for other files.

    Keys: accuracy (list), phase (list of phase names), final_accuracy and final_error (mean over the
    test phase's iterations; without a test phase over the last LAST_ITERATIONS training iterations),
    final_accuracy_phase ("test" or "training"), final_accuracy_iterations, final_accuracy_from (which
    iterations, for a person), test_accuracy and test_error (None without a test phase),
    accuracy_per_phase, error_per_phase, loss_per_phase (mean cross-entropy) and n_iter_per_phase
    ({phase name: value}, phases that occur, in code order), max_accuracy and its 1-based iteration.
    Errors are 1 - accuracy. A resumed run is counted with its parents' iterations
    (`Results.history_loss`; pass `history` if it was read already), as its loss is: the phases and
    the final accuracy are the whole training's.
    """
    if results.task_kind != "classification" or results.accuracy is None:
        return {}
    history = results.classification_history(history)
    accuracy = history.accuracy
    if accuracy.size == 0:
        return {
            "accuracy": [],
            "phase": [],
            "final_accuracy": None,
            "final_error": None,
            "final_accuracy_phase": None,
            "final_accuracy_iterations": 0,
            "final_accuracy_from": "no iteration finished",
            "test_accuracy": None,
            "test_error": None,
            "accuracy_per_phase": {},
            "error_per_phase": {},
            "loss_per_phase": {},
            "n_iter_per_phase": {},
            "max_accuracy": None,
            "max_accuracy_iteration": None,
        }
    phases, names, loss = history.phase, phase_names(results), np.asarray(history.loss, dtype=float)
    final = final_iterations(results, phases)
    final_accuracy = float(np.mean(accuracy[final.indices]))
    per_phase: dict[str, Any] = {
        "accuracy_per_phase": {},
        "error_per_phase": {},
        "loss_per_phase": {},
        "n_iter_per_phase": {},
    }
    for code in sorted(set(phases.tolist())):
        mine = phases == code
        name = phase_name(names, code)
        per_phase["accuracy_per_phase"][name] = float(np.mean(accuracy[mine]))
        per_phase["error_per_phase"][name] = 1.0 - per_phase["accuracy_per_phase"][name]
        per_phase["loss_per_phase"][name] = float(np.mean(loss[mine]))
        per_phase["n_iter_per_phase"][name] = int(np.count_nonzero(mine))
    has_test = final.phase == phase_name(names, TEST)
    best = int(np.argmax(accuracy))
    return {
        "accuracy": [float(a) for a in accuracy],
        "phase": [phase_name(names, c) for c in phases.tolist()],
        "final_accuracy": final_accuracy,
        "final_error": 1.0 - final_accuracy,
        "final_accuracy_phase": final.phase,
        "final_accuracy_iterations": int(final.indices.size),
        "final_accuracy_from": final.description,
        "test_accuracy": final_accuracy if has_test else None,
        "test_error": 1.0 - final_accuracy if has_test else None,
        **per_phase,
        "max_accuracy": float(accuracy[best]),
        "max_accuracy_iteration": history.first_iteration + best + 1,
    }
