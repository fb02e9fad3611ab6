"""`eprop plot` and `eprop eval`: click commands and printing (rich tables, CSV) over plot.py and jobs.py.

Both read only results files (never NEST). They catch no errors: a mistake in the input (a
missing, truncated or foreign file, an unknown option value) is raised, and the boundary
(boundary.py) prints it as one line on stderr, `eprop: error: <message>`, with exit code 2.
`plot_main(argv)` and `eval_main(argv)` run one command through that boundary and return its
exit code (what `eprop plot ...` and `eprop eval ...` do).
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from eprop.analysis.jobs import override_columns, sort_summaries, summarize_runs, table_rows
from eprop.cli.boundary import invoke
from eprop.cli.options import Argument, Command, OneOf, PositiveInt
from eprop.errors import UserError

# ---------------------------------------------------------------- eprop plot


def plot_command() -> click.Command:
    """`eprop plot` as a click command; the figure names and formats come from the figure registry."""
    from eprop.analysis.figures import FIGURE_NAMES, figure_kinds
    from eprop.analysis.plot import FORMATS

    @click.command("plot", cls=Command, short_help="figures from a results file, run directory or multirun directory")
    @click.argument(
        "path", metavar="PATH", cls=Argument, description="a results.h5, a run directory or a multirun directory"
    )
    @click.option("--out", metavar="DIR", help="output directory (default: <run or multirun dir>/figures)")
    @click.option(
        "--format",
        "fmt",
        default="png",
        metavar="[" + "|".join(FORMATS) + "]",
        type=OneOf(FORMATS, "format"),
        help="file format (default: png)",
    )
    @click.option(
        "--only",
        metavar="NAME,...",
        help=f"draw only these figures; names: {', '.join(FIGURE_NAMES)} (a figure that does "
        f"not apply to the run's task kind is not drawn: {figure_kinds()})",
    )
    @click.option(
        "--dpi",
        default=300,
        metavar="N",
        type=PositiveInt("a positive number of dots per inch"),
        help="resolution of raster output in dots per inch (default: 300; every figure must stay "
        "within 10000 x 10000 pixels)",
    )
    @click.option(
        "--log",
        is_flag=True,
        help="logarithmic loss axis (default: chosen from the data, log when the loss spans more than 1.5 decades)",
    )
    @click.option("--linear", is_flag=True, help="linear loss axis")
    def plot(path: str, out: str | None, fmt: str, only: str | None, dpi: int, log: bool, linear: bool) -> int:
        """Draw the figures of a run (or of the best job of a multirun and all its loss curves) from its
        results file; needs no NEST.

        PATH: a results.h5, a run directory or a multirun directory.
        """
        return plot_figures(path, out=out, fmt=fmt, only=only, dpi=dpi, log=log, linear=linear)

    return plot


def plot_figures(path: str, out: str | None, fmt: str, only: str | None, dpi: int, log: bool, linear: bool) -> int:
    """Draw the figures and print what was written; errors are raised for the boundary to print."""
    from eprop.analysis.plot import plot_path

    if log and linear:
        raise click.UsageError(
            "--log --linear: not allowed together; valid: one of them, or neither (chosen from the data)"
        )
    names = {name.strip() for name in only.split(",") if name.strip()} if only else None
    try:
        report = plot_path(
            path, out_dir=out, fmt=fmt, only=names, dpi=dpi, log=True if log else (False if linear else None)
        )
    except OSError as exc:  # the output folder cannot be made or written: the user's to fix
        raise UserError(f"{exc.filename or out}: cannot write figures there ({exc.strerror or exc})") from exc
    for name, reason in report.skipped:
        print(f"eprop: skipped {name}: {reason}", file=sys.stderr)
    if report.best_job is not None:
        print(f"best job (lowest final loss): {report.best_job}")
    for written in report.written:
        print(written)
    return 0


def plot_main(argv: Sequence[str] | None = None) -> int:
    """`eprop plot PATH [--out DIR] [--format png|pdf|svg] [--only NAME,...] [--dpi N] [--log|--linear]`.

    Returns the exit code: 0 on success, 2 on a user error (printed as one line on stderr).
    """
    return invoke(plot_command(), sys.argv[1:] if argv is None else argv, "eprop plot")


# ---------------------------------------------------------------- eprop eval


def eval_command() -> click.Command:
    """`eprop eval` as a click command."""

    @click.command(
        "eval",
        cls=Command,
        short_help="metrics table from results files or directories",
    )
    @click.argument(
        "paths",
        metavar="PATH...",
        nargs=-1,
        required=True,
        cls=Argument,
        description="one or more results files, run directories or multirun directories",
    )
    @click.option(
        "--json",
        "as_json",
        is_flag=True,
        help="print JSON instead of a table (an object for one run, a list for several)",
    )
    @click.option("--csv", "csv_file", metavar="FILE", help="also write the table (one row per job) as CSV")
    @click.option(
        "--sort",
        metavar="KEY",
        default="final_loss",
        help="column to sort jobs by, e.g. final_loss, rate_mean, runtime_s or an override key "
        "such as optimizer.eta (default: final_loss; ascending, jobs lacking it last)",
    )
    @click.option("--descending", is_flag=True, help="sort in descending order")
    def evaluate(paths: tuple[str, ...], as_json: bool, csv_file: str | None, sort: str, descending: bool) -> int:
        """Summarize runs from their results files: losses, firing rates, weight changes, runtimes; needs no NEST.

        PATH...: results files, run directories or multirun directories.
        """
        return eval_table(list(paths), as_json=as_json, csv_file=csv_file, sort=sort, descending=descending)

    return evaluate


def eval_table(paths: list[str], as_json: bool, csv_file: str | None, sort: str, descending: bool) -> int:
    """Print the table (or JSON) of `paths`; returns the exit code (errors are raised for the boundary).

    Of several PATHs, one that cannot be read is a table row with status "unreadable" and one
    line `eprop: error: <reason>` on stderr; the others are still reported and the exit code is
    2, because a file the user named explicitly was not evaluated. Unreadable, failed or diverged
    jobs are warnings with their error line (exit 0): a sweep's crashed job is an expected result.
    """
    summaries = sort_summaries(summarize_runs(paths), ("-" if descending else "") + sort)
    bad_given = [s for s in summaries if s.get("given")]
    if bad_given and len(bad_given) == len(summaries):  # nothing could be read: only the reasons
        for summary in bad_given:
            print(f"eprop: error: {summary['error']}", file=sys.stderr)
        return 2
    columns, rows = table_rows(summaries)
    if csv_file:
        write_csv(Path(csv_file), columns, rows)
    for summary in summaries:
        if summary.get("given"):
            print(f"eprop: error: {summary['error']}", file=sys.stderr)
        elif summary.get("status") in ("unreadable", "failed", "diverged") and summary.get("error"):
            print(
                f"eprop: warning: job {summary.get('job')}: {summary.get('status')}: {summary.get('error')}",
                file=sys.stderr,
            )
        elif summary.get("history_note"):
            print(f"eprop: warning: {summary['path']}: {summary['history_note']}", file=sys.stderr)
    code = 2 if bad_given else 0
    if as_json:
        payload: Any = summaries[0] if len(summaries) == 1 else summaries
        print(json.dumps(payload, indent=2))
        return code
    console = _console()
    if len(summaries) == 1:
        console.print(run_table(summaries[0]))
    else:
        console.print(jobs_table(rows, override_columns(summaries)))
    return code


def eval_main(argv: Sequence[str] | None = None) -> int:
    """`eprop eval PATH... [--json] [--csv FILE] [--sort KEY] [--descending]`.

    Returns the exit code: 0 on success, 2 on a user error (printed as one line on stderr).
    """
    return invoke(eval_command(), sys.argv[1:] if argv is None else argv, "eprop eval")


def write_csv(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> None:
    """One row per job; empty cells for values a job lacks."""
    try:
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            for row in rows:
                writer.writerow({k: "" if row.get(k) is None else row[k] for k in columns})
    except OSError as exc:
        raise UserError(f"{path}: cannot write CSV ({exc.strerror})") from None


# ---------------------------------------------------------------- tables


def fmt(value: Any, spec: str = ".4g") -> str:
    """A value for a table cell: numbers with `spec`, None as an em dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)):
        return format(value, spec) if isinstance(value, float) else str(value)
    return str(value)


def run_table(s: dict[str, Any]) -> Table:
    """The one-run table: a quantity per line."""
    table = Table(title=f"eprop eval: {s['path']}", show_header=True, header_style="bold", title_justify="left")
    table.add_column("quantity")
    table.add_column("value")
    n_iter = s.get("n_iter")
    table.add_row("status", fmt(s.get("status")))
    bound = s.get("n_iter_bound")
    if bound is None and isinstance(n_iter, int) and (s.get("n_iter_done") or 0) > n_iter:  # phases, bound unknown
        table.add_row(
            "iterations done",
            f"{fmt(s.get('n_iter_done'))} (task.n_iter = {fmt(n_iter)} training iterations, validation, early stopping and test)",
        )
    elif bound is None:
        table.add_row("iterations done", f"{fmt(s.get('n_iter_done'))} of {fmt(n_iter)}")
    elif s.get("status") == "complete":
        table.add_row(
            "iterations done",
            f"{fmt(s.get('n_iter_done'))}, the end of the phase schedule "
            f"(task.n_iter = {fmt(n_iter)} training iterations at most)",
        )
    else:
        table.add_row(
            "iterations done",
            f"{fmt(s.get('n_iter_done'))} of at most {bound} "
            f"(task.n_iter = {fmt(n_iter)} training iterations, validation, early stopping and test)",
        )
    if s.get("parent_runs") or s.get("history_note"):
        first, in_file = int(s.get("first_iteration") or 0), s.get("iterations_in_file")
        done = s.get("n_iter_done") or 0
        table.add_row("resumed from", " → ".join(s.get("parent_runs") or []) or "—")
        table.add_row("iterations in this file", f"{fmt(in_file)} (iterations {done - (in_file or 0) + 1}–{done})")
        if s.get("history_note"):
            table.add_row("history", s["history_note"])
        elif first == 0:
            table.add_row("history", f"the losses below cover iterations 1–{done}, parents included")
    in_file, with_events = s.get("iterations_in_file"), s.get("events_iterations")
    if with_events is not None and in_file is not None and with_events < in_file:
        table.add_row(
            "iterations with recorder events",
            f"{with_events} of the {in_file} in this file (recording schedule, recording.events_*): "
            "firing rates and the recomputed loss use only these",
        )
    table.add_row("task", fmt(s.get("task")))
    table.add_row("overrides", " ".join(s.get("overrides") or []) or "—")
    if s.get("final_loss") is not None:
        table.add_row("final loss E", fmt(s["final_loss"]))
        table.add_row("first loss E", fmt(s["first_loss"]))
        table.add_row("minimum loss E (iteration, 1-based)", f"{fmt(s['min_loss'])} ({s['min_loss_iteration']})")
        reduction = s.get("relative_loss_reduction")
        table.add_row(
            "relative loss reduction 1 − E_final/E_first", "—" if reduction is None else f"{100 * reduction:.1f} %"
        )
        table.add_row(
            "final loss per output",
            ", ".join(f"E_{k} = {fmt(v)}" for k, v in enumerate(s.get("final_loss_per_output") or [])),
        )
    if s.get("rate_mean") is not None:
        table.add_row(
            f"recurrent firing rate, iteration {s['rate_iteration']} (spikes/s)",
            f"mean {fmt(s['rate_mean'], '.3g')}; min {fmt(s['rate_min'], '.3g')}, "
            f"5 % {fmt(s['rate_p5'], '.3g')}, median {fmt(s['rate_median'], '.3g')}, "
            f"95 % {fmt(s['rate_p95'], '.3g')}, max {fmt(s['rate_max'], '.3g')}; "
            f"silent {s['n_silent']} of {s['n_recurrent']}",
        )
    table.add_row("target firing rate f_target (spikes/s)", fmt(s.get("f_target"), ".3g"))
    for projection, norms in (s.get("weight_change") or {}).items():
        change = norms["change"]  # None: not finite (NaN or inf weights; the summary is JSON)
        relative = change / norms["initial"] if change is not None and norms["initial"] else None
        table.add_row(
            f"‖W_final − W_initial‖_F, {projection} (pA)",
            "not finite (NaN or inf weights)"
            if change is None
            else fmt(change) + ("" if relative is None else f" ({100 * relative:.1f} % of ‖W_initial‖_F)"),
        )
    table.add_row(
        "runtime: build / simulate / write (s)",
        " / ".join(fmt(s.get(k), ".3g") for k in ("timing_build_s", "timing_simulate_s", "timing_write_s")),
    )
    if s.get("task_kind") == "classification":
        table.add_row(
            f"final accuracy (error): {s.get('final_accuracy_from') or '—'}",
            f"{fmt(s.get('final_accuracy'), '.3f')} ({fmt(s.get('final_error'), '.3f')})",
        )
        for phase, accuracy in (s.get("accuracy_per_phase") or {}).items():
            n = (s.get("n_iter_per_phase") or {}).get(phase)
            table.add_row(
                f"{phase} phase ({n} iteration{'s' if n != 1 else ''}): mean accuracy (error); mean loss E",
                f"{fmt(accuracy, '.3f')} ({fmt(s['error_per_phase'][phase], '.3f')}); "
                f"{fmt(s['loss_per_phase'][phase])}",
            )
        if s.get("max_accuracy") is not None:
            table.add_row(
                "maximum accuracy (iteration, 1-based)",
                f"{fmt(s['max_accuracy'], '.3f')} ({s['max_accuracy_iteration']})",
            )
    table.add_row("peak RSS (MB)", fmt(s.get("peak_rss_mb"), ".4g"))
    table.add_row("recomputed loss vs /loss, max rel. difference", fmt(s.get("loss_recomputed_max_rel_diff"), ".2e"))
    return table


JOB_COLUMNS = {  # column -> (header, number format); override columns are added between
    "job": ("job", ""),
    "status": ("status", ""),
    "n_iter_done": ("iter.", ""),
    "loss_function": ("loss", ""),
    "final_loss": ("final loss", ".4g"),
    "min_loss": ("min loss", ".4g"),
    "min_loss_iteration": ("at iter.", ""),
    "relative_loss_reduction": ("1−E_final/E_first", ".3f"),
    "final_accuracy": ("final accuracy", ".3f"),
    "final_error": ("final error", ".3f"),
    "final_accuracy_phase": ("accuracy of", ""),
    "rate_median": ("median rate (spikes/s)", ".3g"),
    "runtime_s": ("runtime (s)", ".3g"),
}


JOB_WIDTH = 100  # characters of a job's name that the several-jobs table always shows


CLASSIFICATION_COLUMNS = ("final_accuracy", "final_error", "final_accuracy_phase")
LOSS_NAMES = {"mean_squared_error": "MSE", "cross_entropy": "CE"}  # the loss column of jobs of several loss functions


def jobs_table(rows: list[dict[str, Any]], override_keys: list[str]) -> Table:
    """The several-jobs table: one row per job, overrides as columns, in the order of `rows`."""
    table = Table(title="eprop eval", header_style="bold", title_justify="left")
    columns = ["job", "status"] + override_keys + [k for k in JOB_COLUMNS if k not in ("job", "status")]
    if not any(row.get("final_accuracy") is not None for row in rows):  # no classification job among them
        columns = [k for k in columns if k not in CLASSIFICATION_COLUMNS]
    if len({row.get("loss_function") for row in rows if row.get("loss_function")}) < 2:  # one loss: no column
        columns = [k for k in columns if k != "loss_function"]
    longest_job = max((len(fmt(row.get("job"))) for row in rows), default=0)
    for key in columns:
        header = JOB_COLUMNS.get(key, (key, ""))[0]
        if key == "job":  # a job's name is never cut (other columns shrink first), up to JOB_WIDTH characters
            table.add_column(header, justify="left", no_wrap=True, min_width=min(longest_job, JOB_WIDTH))
        else:
            table.add_column(header, justify="left" if key == "status" else "right")
    for row in rows:
        shown = {**row, "loss_function": LOSS_NAMES.get(row.get("loss_function"), row.get("loss_function"))}
        table.add_row(*(fmt(shown.get(k), JOB_COLUMNS.get(k, (k, ""))[1] or ".4g") for k in columns))
    return table


def _console() -> Console:
    return Console(width=None if sys.stdout.isatty() else 200, highlight=False)
