"""The whole training of a resumed run: its results file preceded by its parents' (followed back
through the root attribute parent_run), on one iteration numbering, as `eprop eval` reports it;
and that history as a pandas DataFrame (`Results.to_pandas`).

A resumed run's file holds only its own iterations; `first_iteration` says how many its parents
did. The history stops (with a `note`) at a parent that is missing, unreadable or holds fewer
iterations than its child continued from, and after MAX_PARENTS parents.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from eprop.errors import ResultsError
from eprop.results.files import results_file_in
from eprop.results.iterations import IterationsReader, phase_name

if TYPE_CHECKING:
    import pandas

MAX_PARENTS = 100  # resumed runs followed back through parent_run at most


@dataclass
class LossHistory:
    """The loss of a run and of the runs it was resumed from, on one iteration numbering.

    `loss[i]` is iteration `first_iteration + i` (0-based) of the whole training; `segments`
    lists (results file, 0-based first iteration, iterations) from the oldest run on; `note`
    says why the history starts late (a parent file is missing or unreadable), or is "".
    """

    loss: np.ndarray
    loss_per_output: np.ndarray
    first_iteration: int = 0
    segments: list[tuple[Path, int, int]] = field(default_factory=list)
    note: str = ""
    accuracy: np.ndarray | None = None  # classification: /accuracy of the same iterations; None for other files
    phase: np.ndarray | None = None  # the phase code of each of them (0, training, for a file without /phase)

    @property
    def n_iter_done(self) -> int:
        """Iterations done by the whole chain: the last iteration's 1-based number."""
        return self.first_iteration + len(self.loss)

    @property
    def resume_points(self) -> list[int]:
        """0-based iterations at which a resumed run took over."""
        return [start for _, start, _ in self.segments[1:]]


class HistoryReader(IterationsReader):
    """The parent chain of a resumed run and the per-iteration table (part of `Results`)."""

    @property
    def parent_run(self) -> str:
        """The run directory (or results file) this run was resumed from; "" if it was not resumed."""
        return str(self.file.attrs.get("parent_run", "") or "")

    def history_loss(self) -> LossHistory:
        """This run's loss (and a classification run's accuracy and phases) preceded by its parents'
        (following parent_run while the files exist), as `eprop eval` reports it.

        Returns:
            A `LossHistory`: `loss` (same units as `loss`), `loss_per_output` (NaN for a parent with
            another number of outputs), `accuracy` (None if a file of the chain has none), `phase`
            codes, `first_iteration` (0-based, > 0 only if a parent is missing: `note` says why).
        """
        parts = [
            (self.path, self.first_iteration, self.loss, self.loss_per_output, self._accuracy_done(), self.phases())
        ]
        note = ""
        seen = {self.path.resolve()}
        parent, start = self.parent_run, self.first_iteration
        while parent and start > 0 and len(parts) <= MAX_PARENTS:
            try:
                found = Path(parent) if Path(parent).is_file() else results_file_in(Path(parent))
                if found is None:
                    raise ResultsError(f"{parent}: no results file there")
                if found.resolve() in seen:
                    note = f"parent run {parent} repeats in the chain; history cut there"
                    break
                with type(self)._open(found) as res:
                    n_taken = start - res.first_iteration
                    loss, per_output = res.loss[:n_taken], res.loss_per_output[:, :n_taken]
                    if n_taken <= 0 or len(loss) < n_taken:
                        note = (
                            f"parent run {parent} holds {len(loss)} iterations, not the {max(n_taken, 0)} "
                            f"this run continued from; history starts at iteration {start + 1}"
                        )
                        break
                    accuracy = res._accuracy_done()
                    parts.insert(
                        0,
                        (
                            found,
                            res.first_iteration,
                            loss,
                            per_output,
                            None if accuracy is None else accuracy[:n_taken],
                            res.phases()[:n_taken],
                        ),
                    )
                    seen.add(found.resolve())
                    parent, start = res.parent_run, res.first_iteration
            except (ResultsError, OSError, KeyError) as exc:
                note = f"parent run {parent} is not readable ({exc}); history starts at iteration {start + 1}"
                break
        if not note and start > 0:
            note = f"no parent run recorded for the first {start} iterations; history starts at iteration {start + 1}"
        n_out = self.loss_per_output.shape[0]
        per_output = [p[3] if p[3].shape[0] == n_out else np.full((n_out, len(p[2])), np.nan) for p in parts]
        accuracies = [p[4] for p in parts]
        return LossHistory(
            loss=np.concatenate([p[2] for p in parts]),
            loss_per_output=np.concatenate(per_output, axis=1),
            first_iteration=parts[0][1],
            segments=[(p[0], p[1], len(p[2])) for p in parts],
            note=note,
            accuracy=None if any(a is None for a in accuracies) else np.concatenate(accuracies),
            phase=np.concatenate([p[5] for p in parts]),
        )

    def classification_history(self, history: LossHistory | None = None) -> LossHistory:
        """The history to read a classifier's accuracy and phases from, as `eprop eval` does.

        Args:
            history: `history_loss()` if read already.

        Returns:
            `history_loss()`; but if a parent has no /accuracy, this file's iterations alone, so that
            loss, accuracy and phases stay aligned.
        """
        history = history if history is not None else self.history_loss()
        if history.accuracy is not None or self.accuracy is None:
            return history
        return LossHistory(
            self.loss,
            self.loss_per_output,
            self.first_iteration,
            segments=[(self.path, self.first_iteration, len(self.loss))],
            accuracy=self._accuracy_done(),
            phase=self.phases(),
        )

    def to_pandas(self) -> pandas.DataFrame:
        """The training, one row per finished iteration, as the numbers of `eprop eval`.

        A resumed run's rows start with its parents' iterations (`history_loss`), so the table
        covers the whole training, as eval reports it.

        Returns:
            A `pandas.DataFrame` indexed by `iteration`: the 1-based number of the iteration in the
            whole training (a resumed run's parents counted, as eval's `min_loss_iteration` and
            the loss figure's x axis count; it starts above 1 only if a parent file is missing,
            `df.attrs["history_note"]` says why). Columns:

            - `loss`: the loss (units of `units("loss")`: mV² for regression, 1 for cross-entropy).
            - `loss_0`, `loss_1`, ...: the loss of each readout neuron (`neurons("readout")` order);
              NaN in the iterations of a parent with another number of outputs.
            - classification runs only: `accuracy`, the fraction (0 to 1) of the iteration's
              sequences classified right (NaN in the iterations of a parent file without
              /accuracy: eval then reports this file's iterations only), and `phase`, the phase's
              name ("training", "validation", "early_stopping", "test").

            `df.attrs` holds `path`, `parent_runs` (the parents' files, oldest first) and
            `history_note`.
        """
        import pandas

        history = self.history_loss()
        n = len(history.loss)
        columns: dict[str, np.ndarray | list[str]] = {"loss": np.asarray(history.loss, dtype=float)}
        for k, row in enumerate(history.loss_per_output):
            columns[f"loss_{k}"] = np.asarray(row, dtype=float)
        if self.task_kind == "classification" and self.accuracy is not None:
            aligned = self.classification_history(history)  # this file's iterations if a parent lacks /accuracy
            accuracy = np.full(n, np.nan)
            accuracy[n - len(aligned.accuracy) :] = aligned.accuracy
            columns["accuracy"] = accuracy
            names = self.phase_names
            columns["phase"] = [phase_name(names, code) for code in history.phase.tolist()]
        index = pandas.RangeIndex(history.first_iteration + 1, history.first_iteration + n + 1, name="iteration")
        frame = pandas.DataFrame(columns, index=index)
        frame.attrs = {
            "path": str(self.path),
            "parent_runs": [str(path) for path, _, _ in history.segments[:-1]],
            "history_note": history.note,
        }
        return frame
