"""The objective each job of a multirun returns to the sweeper (`job_objective`): the final loss
of a regression task, the final accuracy of a classification task; `check_direction` (called by
EpropOptunaSweeper.setup) refuses an optuna search in the other direction.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from eprop.errors import UserError


def task_kind(cfg: DictConfig) -> str:
    """ "classification" or "regression": the kind of the config's task (task.target in tasks.TASKS)."""
    from eprop.tasks import TASKS

    task = TASKS.get(str(cfg.task.get("target", "")))
    return task.kind if task is not None else "regression"


def job_objective(cfg: DictConfig, results_path: Path, final_loss: float) -> float:
    """What a job returns to the sweeper: the final loss (regression), the final accuracy (classification:
    the mean over the test phase's iterations, else over the last training iterations; eprop eval's
    final_accuracy), which an optuna search maximizes (`hparams_search=evidence_accumulation`)."""
    if task_kind(cfg) != "classification":
        return final_loss
    from eprop.analysis.classification import classification_summary
    from eprop.results import open_results

    with open_results(results_path) as results:
        accuracy = classification_summary(results).get("final_accuracy")
    return float("nan") if accuracy is None else float(accuracy)


def check_direction(cfg: DictConfig) -> None:
    """An optuna search in the wrong direction is refused: a classification task's jobs return the final
    accuracy (maximize), a regression task's the final loss (minimize). Called by EpropOptunaSweeper.setup
    (Hydra turns an exception in a callback into a warning)."""
    sweeper = cfg.hydra.sweeper
    direction = str(sweeper.get("direction", "")).lower().replace("direction.", "")
    wanted = "maximize" if task_kind(cfg) == "classification" else "minimize"
    if direction in ("minimize", "maximize") and direction != wanted:
        returns = "the final accuracy" if wanted == "maximize" else "the final loss"
        raise UserError(
            f"hydra.sweeper.direction={direction}: task.target={cfg.task.target} is a {task_kind(cfg)} task, "
            f"whose jobs return {returns}; use hydra.sweeper.direction={wanted} (hparams_search="
            f"{'evidence_accumulation' if wanted == 'maximize' else 'eta_creg'} does)"
        )


# ---------------------------------------------------------------- sweep summary
