"""Reading what a results file holds per iteration: the loss, a classifier's accuracy, phases,
labels and predictions, and the regression target.

Arrays cover this file's finished iterations only (0-based: element i is iteration
`first_iteration + i + 1` of the whole training); a resumed run's parents are read by history.py.
"""

from __future__ import annotations

import numpy as np

from eprop.results.base import ResultsBase


def phase_name(names: list[str], code: int) -> str:
    """The name of phase `code` in `names`; "phase <code>" for a code that `names` lacks."""
    return names[code] if 0 <= code < len(names) else f"phase {code}"


class IterationsReader(ResultsBase):
    """The per-iteration datasets of one file (part of `Results`)."""

    @property
    def task_kind(self) -> str:
        """ "regression" or "classification" (root attribute task_kind; "regression" for older files)."""
        return str(self.file.attrs.get("task_kind", "regression") or "regression")

    @property
    def loss(self) -> np.ndarray:
        """The loss of each finished iteration of this file, shape (n_iter_done,), float64.

        Regression: Σ over outputs of ½ Σ_t (y − y*)², in mV² (averaged over a batch's sequences).
        Classification: the cross-entropy (units 1), or the squared error of the readout family
        without a loss parameter (see `readout_loss`). `units("loss")` gives the units.
        A resumed run's parents are not included; `to_pandas()` and `history_loss()` include them.
        """
        return self.dataset("loss")[: self._n_iter_done]

    @property
    def loss_per_output(self) -> np.ndarray:
        """The loss per readout neuron and iteration, shape (n_out, n_iter_done), float64; rows in the
        order of `neurons("readout")`, same units as `loss` (whose iterations are the column sums)."""
        return self.dataset("loss_per_output")[:, : self._n_iter_done]

    @property
    def target(self) -> np.ndarray:
        """Regression tasks: the target signal y* of one sequence, shape (n_out, steps per sequence), in mV.

        Raises:
            KeyError: The file has no /target (classification tasks).
        """
        return self.dataset("target")[()]

    @property
    def accuracy(self) -> np.ndarray | None:
        """Classification: /accuracy, the fraction (0 to 1) of each iteration's sequences whose predicted
        class is the label, shape (iterations written,); None for other files."""
        return self.file["accuracy"][()] if "accuracy" in self.file else None

    def _accuracy_done(self) -> np.ndarray | None:
        """/accuracy of the finished iterations as floats; None for a file without it."""
        accuracy = self.accuracy
        return None if accuracy is None else np.asarray(accuracy, dtype=float)[: self._n_iter_done]

    def phases(self) -> np.ndarray:
        """The phase code of each finished iteration, an int array of shape (n_iter_done,).

        Codes index `phase_names` (eprop/config/phases.py: 0 training, 1 validation, 2 early_stopping,
        3 test); zeros (all training) for a file without /phase.
        """
        if "phase" in self.file:
            return np.asarray(self.file["phase"][: self._n_iter_done], dtype=int)
        return np.zeros(self._n_iter_done, dtype=int)

    @property
    def phase_names(self) -> list[str]:
        """The names of the phase codes (root attribute phase_names), e.g. ["training", "validation",
        "early_stopping", "test"]; eprop's four names for a file without it."""
        from eprop.config.phases import PHASE_NAMES

        names = self.attr_json("phase_names")
        return [str(n) for n in names] if isinstance(names, list) and names else list(PHASE_NAMES)

    def phase_name(self, code: int) -> str:
        """The name of one phase code.

        Args:
            code: A phase code, as `phases()` returns them.

        Returns:
            Its name in `phase_names`, e.g. "test"; "phase <code>" for a code the file does not name.
        """
        return phase_name(self.phase_names, code)

    def per_sequence(self, name: str) -> np.ndarray | None:
        """Classification: each sequence's class index, shape (iterations, batch_size), int64.

        Args:
            name: "labels" (the true class) or "predicted" (the readout with the largest mean
                signal in the learning window; -1 where the readouts tie: no prediction).

        Returns:
            The array; None if the file lacks it (or for another name).
        """
        return self.file[name][()] if name in ("labels", "predicted") and name in self.file else None
