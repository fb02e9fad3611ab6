"""`Sweep`: the runs under one folder, as `eprop.open` gives them; its table is `eprop eval`'s.

A folder is a sweep when it holds no results file of its own but run directories below it: a
Hydra multirun directory (`eprop run -m ...`, one numbered job directory each) or any folder of
run directories (for example several `eprop.run(..., run_dir=parent / name)` calls). The jobs are
found, summarized and tabulated by jobs.py, as `eprop eval` does, so `Sweep.to_pandas()` holds the
numbers of `eprop eval DIR --csv`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eprop.analysis.jobs import error_files, job_directories, sort_summaries, summarize_runs, table_rows
from eprop.errors import UserError
from eprop.results import Results, open_results, results_file_in

if TYPE_CHECKING:
    import pandas as pd


class Sweep:
    """The runs under one folder: a multirun directory or a folder of run directories.

    Open one with `eprop.open(path)`. Iterating over a sweep gives the `Results` of every job
    that has a results file, in the order of `jobs`; each is closed when the loop moves on (use
    `results(i)` to keep one open).

    Attributes:
        path: The folder.
        jobs: The job directories, sorted naturally (0, 1, 2, ..., 10). A job that failed before it
            wrote a results file (its directory holds `error.txt` or only `.hydra/`) is listed too.

    Example:
        >>> sweep = eprop.open("outputs/multirun/2026-01-01/12-00-00-000000")  # doctest: +SKIP
        >>> sweep.to_pandas()[["job", "optimizer.eta", "final_loss"]]  # doctest: +SKIP
    """

    def __init__(self, path: str | Path):
        """Find the jobs under `path`.

        Args:
            path: A multirun directory or a folder of run directories.

        Raises:
            UserError: `path` does not exist, is not a directory, or holds no run.
        """
        self.path = Path(path)
        if not self.path.exists():
            raise UserError(f"{self.path}: no such file or directory")
        if not self.path.is_dir():
            raise UserError(f"{self.path}: not a directory (a sweep is a multirun directory or a folder of runs)")
        self.jobs: list[Path] = job_directories(self.path)

    def __repr__(self) -> str:
        return f"Sweep({str(self.path)!r}, {len(self.jobs)} jobs)"

    def __len__(self) -> int:
        return len(self.jobs)

    def results(self, i: int) -> Results:
        """The results of job `i` (an index into `jobs`), open for reading; close it (or use `with`).

        Args:
            i: The job's index in `jobs`.

        Returns:
            The job's `Results`.

        Raises:
            UserError: The job has no results file (it failed before training, see its error.txt).
            ResultsError: Its results file cannot be read.
        """
        job = self.jobs[i]
        found = results_file_in(job)
        if found is None:
            errors = error_files(job)
            why = f"; see {errors[0]}" if errors else ""
            raise UserError(f"{job}: job {i} of the sweep has no results file (it failed before training{why})")
        return open_results(found)

    def __iter__(self) -> Iterator[Results]:
        for job in self.jobs:
            found = results_file_in(job)
            if found is None:
                continue
            with open_results(found) as results:
                yield results

    def summaries(self, sort: str | None = "final_loss", descending: bool = False) -> list[dict[str, Any]]:
        """One summary per job, as `eprop eval DIR --json` prints them.

        Args:
            sort: The column to sort the jobs by (as `eprop eval --sort`: `final_loss`, `rate_mean`,
                an override key such as `optimizer.eta`, ...); jobs lacking it go last. None keeps
                the order of `jobs`.
            descending: Sort in descending order.

        Returns:
            A list of dicts: the job's `job` (its directory relative to `path`), `status`, overrides,
            losses, firing rates, weight changes and runtimes; failed or unreadable jobs with their `error`.
        """
        summaries = summarize_runs([self.path])
        if sort is not None:
            summaries = sort_summaries(summaries, ("-" if descending else "") + sort)
        return summaries

    def to_pandas(self, sort: str | None = "final_loss", descending: bool = False) -> pd.DataFrame:
        """The table of `eprop eval DIR --csv` as a DataFrame: one row per job.

        The columns are `job` and `status`, then one column per override key of the jobs (e.g.
        `optimizer.eta`, its values as numbers where they are numbers), then the metrics of
        `eprop eval`: `n_iter_done`, `n_iter`, `final_loss`, `min_loss`, `min_loss_iteration`,
        `first_loss`, `relative_loss_reduction` (1 - E_final/E_first), `final_loss_<k>` per output,
        firing rates in spikes/s (`rate_mean`, `rate_min`, `rate_median`, `rate_max`, `f_target`),
        `weight_change_<projection>` (‖W_final − W_initial‖_F in pA), `runtime_s`, `peak_rss_mb`; a
        classification sweep adds its accuracies. Values a job lacks are missing (NaN or None).

        Args:
            sort: The column to sort by, as in `summaries`; default `final_loss`, as `eprop eval`.
            descending: Sort in descending order.

        Returns:
            A pandas DataFrame with a RangeIndex.
        """
        import pandas as pd

        columns, rows = table_rows(self.summaries(sort, descending))
        return pd.DataFrame(rows, columns=columns)
