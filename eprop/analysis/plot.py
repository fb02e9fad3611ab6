"""The plot driver: which figures of which file, written where (`eprop plot` calls `plot_path`).

`plot_run` draws the registered run figures (figures/__init__.py) that apply to the file's task
kind, `plot_multirun` the comparison of a multirun's jobs plus the best job's figures. Every
figure is drawn and its size checked against `dpi` before the first file is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from eprop.analysis.figures import FIGURE_NAMES, FIGURES, MULTIRUN_FIGURES, RUN_FIGURES, FigureUnavailable
from eprop.analysis.figures.comparison import loss_comparison_figure, override_labels
from eprop.analysis.summary import damaged_file_message
from eprop.errors import EpropError, UserError
from eprop.results import Results, find_result_files, open_results

FORMATS = ("png", "pdf", "svg")


@dataclass
class PlotReport:
    written: list[Path] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (figure name, reason)
    best_job: Path | None = None


MAX_PIXELS = 10000  # largest width or height of a written figure, in pixels (raster output and rasterized parts)


def check_dpi(name: str, fig: Figure, dpi: int) -> None:
    """UserError if `fig` at `dpi` would be wider or taller than MAX_PIXELS (it would exhaust memory)."""
    width, height = (float(x) for x in fig.get_size_inches())
    largest = max(width, height)
    if dpi < 1 or largest * dpi > MAX_PIXELS:
        top = int(MAX_PIXELS // largest)
        raise UserError(
            f"--dpi {dpi}: figure {name} ({width:.2f} x {height:.2f} in) would be "
            f"{width * dpi:.0f} x {height * dpi:.0f} pixels; valid for it: 1 to {top} "
            f"(at most {MAX_PIXELS} pixels a side)"
        )


def save_figure(fig: Figure, path: Path, dpi: int) -> Path:
    check_dpi(path.stem, fig, dpi)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path


def plot_run(
    results: Results,
    out_dir: Path,
    fmt: str = "png",
    only: set[str] | None = None,
    dpi: int = 300,
    log: bool | None = None,
    prefix: str = "",
    report: PlotReport | None = None,
    caption: str = "",
) -> PlotReport:
    """Write every run figure that applies to the file's task kind (or those of them in `only`)
    as out_dir/<prefix><name>.<fmt>; `caption` (e.g. which job of a multirun) heads every figure.

    Every figure is drawn and its size checked against `dpi` before the first file is written.
    """
    report = report or PlotReport()
    figures = []
    for name, spec in FIGURES.items():
        if spec.scope != "run" or (only is not None and name not in only):
            continue
        if not spec.applies_to(results):
            if only is not None:  # asked for by name: say why it is not drawn (all figures: silently)
                report.skipped.append((prefix + name, spec.why_not(results)))
            continue
        try:
            fig = spec.draw(results, log)
        except FigureUnavailable as reason:
            report.skipped.append((prefix + name, f"{results.path}: {reason}"))
            continue
        except (KeyError, IndexError, ValueError, OSError) as exc:
            raise UserError(damaged_file_message(results.path, exc)) from None
        if caption:
            add_caption(fig, caption)
        check_dpi(prefix + name, fig, dpi)
        figures.append((name, fig))
    for name, fig in figures:
        report.written.append(save_figure(fig, out_dir / f"{prefix}{name}.{fmt}", dpi))
    return report


def add_caption(fig: Figure, caption: str) -> None:
    """`caption` as the first line of the figure's title (above a title it has)."""
    title = fig.get_suptitle()
    fig.suptitle(f"{caption}\n{title}" if title else caption, fontsize=8)


def best_job_caption(path: Path, label: str, n_jobs: int) -> str:
    """The line that heads the best job's figures: which job of how many, and its overrides that differ."""
    return f"best of {n_jobs} jobs (lowest final loss): job {path.parent.name}, {label}"


LOSS_LABELS = {  # (task kind, readout loss) -> the loss axis of loss_all_jobs, with its unit
    ("regression", "mean_squared_error"): "squared-error loss $E$ (mV$^2$)",
    ("classification", "mean_squared_error"): "squared-error loss $E$ (mV$^2$)",
    ("classification", "cross_entropy"): "cross-entropy loss $E$",
}


def jobs_loss_label(kinds: list[tuple[str, str]]) -> str:
    """The loss axis of jobs with these (task kind, readout loss): the loss and its unit if they share one."""
    labels = {LOSS_LABELS.get(kind, "loss $E$") for kind in kinds}
    return labels.pop() if len(labels) == 1 else "loss $E$ (its kind and unit differ between jobs)"


def plot_multirun(
    files: list[Path],
    out_dir: Path,
    fmt: str = "png",
    only: set[str] | None = None,
    dpi: int = 300,
    log: bool | None = None,
) -> PlotReport:
    """Loss curves of all jobs overlaid, plus the single-run figures of the best job (prefix best_).

    The best job has the lowest final loss among jobs that finished at least one iteration.
    Unreadable job files are skipped and reported, so one crashed job does not hide the others.
    """
    report = PlotReport()
    jobs: list[tuple[Path, list[str], np.ndarray]] = []
    firsts: dict[Path, int] = {}
    kinds: dict[Path, tuple[str, str]] = {}
    for path in files:
        try:
            with open_results(path) as results:
                try:
                    history = results.history_loss()
                    jobs.append((path, results.overrides, history.loss))
                    firsts[path] = history.first_iteration
                    kinds[path] = (results.task_kind, results.readout_loss)
                except (KeyError, OSError) as exc:
                    raise UserError(damaged_file_message(path, exc)) from None
        except EpropError as exc:
            report.skipped.append(("loss_all_jobs", str(exc)))
    finished = [(p, o, loss) for p, o, loss in jobs if len(loss) and np.isfinite(loss[-1])]
    if not finished:
        report.skipped.append(("loss_all_jobs", "no job finished an iteration"))
        return report
    best = int(np.argmin([loss[-1] for _, _, loss in finished]))
    report.best_job = finished[best][0]
    labels, common = override_labels([o for _, o, _ in finished])
    if only is None or "loss_all_jobs" in only:
        fig = loss_comparison_figure(
            [(label, loss) for label, (_, _, loss) in zip(labels, finished)],
            best=best,
            log=log,
            title=common,
            first_iterations=[firsts[p] for p, _, _ in finished],
            ylabel=jobs_loss_label([kinds[p] for p, _, _ in finished]),
        )
        report.written.append(save_figure(fig, out_dir / f"loss_all_jobs.{fmt}", dpi))
    run_only = None if only is None else only & set(RUN_FIGURES)
    if run_only is None or run_only:
        with open_results(report.best_job) as results:
            caption = best_job_caption(report.best_job, labels[best], len(finished))
            plot_run(
                results,
                out_dir,
                fmt=fmt,
                only=run_only,
                dpi=dpi,
                log=log,
                prefix="best_",
                report=report,
                caption=caption,
            )
    return report


def plot_path(
    path: str | Path,
    out_dir: str | Path | None = None,
    fmt: str = "png",
    only: set[str] | None = None,
    dpi: int = 300,
    log: bool | None = None,
) -> PlotReport:
    """Figures of a results file, a run directory or a multirun directory.

    Default output directory: <run dir>/figures, or <multirun dir>/figures for several jobs.
    """
    if fmt not in FORMATS:
        raise UserError(f"--format {fmt}: not supported; valid: {', '.join(FORMATS)}")
    if only is not None:
        unknown = sorted(only - set(FIGURE_NAMES))
        if unknown:
            raise UserError(f"--only {','.join(unknown)}: no such figure; valid: {', '.join(FIGURE_NAMES)}")
    path = Path(path)
    files = find_result_files(path)
    if len(files) == 1:
        wanted = sorted(set(MULTIRUN_FIGURES) & (only or set()))
        if wanted:
            raise UserError(
                f"--only {','.join(wanted)}: this figure compares the jobs of a multirun, and {path} holds "
                f"one run; give a multirun directory, or choose from: {', '.join(RUN_FIGURES)}"
            )
        default_out = files[0].parent / "figures"
        with open_results(files[0]) as results:
            return plot_run(results, Path(out_dir) if out_dir else default_out, fmt=fmt, only=only, dpi=dpi, log=log)
    default_out = (path if path.is_dir() else path.parent) / "figures"
    return plot_multirun(files, Path(out_dir) if out_dir else default_out, fmt=fmt, only=only, dpi=dpi, log=log)
