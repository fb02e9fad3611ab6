"""Fast tier: each task declares its own config keys (a dataclass in its module, extending
schema_base.TaskConfig); the schema of a config is chosen by task.target everywhere: composition,
validate's bounds, the error messages, `eprop run --params` and a resumed run's merge. A task
added in a test (its module's two classes and one YAML file) composes, validates and trains
against the fake simulator with nothing else changed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from omegaconf import OmegaConf

from eprop.cli import main as cli
from eprop.config.fields import TaskConfig, param
from eprop.config.validation import validate
from eprop.errors import UserError
from eprop.tasks import TASKS, Outcome, Task
from eprop.tasks.base import IterationSignals
from eprop.tasks.evidence_accumulation import EvidenceAccumulationConfig
from eprop.tasks.nmnist import NmnistConfig
from eprop.tasks.trajectory import TrajectoryConfig, mean_squared_error
from tests.conftest import run_eprop_in_process
from tests.support.fake_simulator import FakeSimulator

HANDWRITING_KEYS = (
    "batch_size, clear_first_input_step, data_file, data_format, delay_in_rec, delay_out_norm, delay_rec_out, "
    "extension_sim, input_spike_prob, n_in, n_iter, name, offset_gen, sequence_steps, sine_periods, "
    "steps_per_data_point, target"
)
EA_KEYS = (
    "batch_size, bg_noise_ms, cue_ms, cue_spike_prob, delay_in_rec, delay_out_norm, delay_rec_out, extension_sim, "
    "n_cues, n_in, n_iter, n_per_population, name, noise_spike_prob, offset_gen, prob_group, recall_ms, "
    "recall_spike_prob, sequence_steps, spacing_ms, target"
)
TRAJECTORY_TASKS = "handwriting, infinite_loop, sine_waves, custom"


def test_each_task_names_its_own_schema():
    assert {name: task.config_schema for name, task in TASKS.items()} == {
        "handwriting": TrajectoryConfig,
        "infinite_loop": TrajectoryConfig,
        "sine_waves": TrajectoryConfig,
        "custom": TrajectoryConfig,
        "evidence_accumulation": EvidenceAccumulationConfig,
        "nmnist": NmnistConfig,
    }


def test_a_composed_task_has_exactly_its_own_keys(compose):
    assert ", ".join(sorted(compose().task)) == HANDWRITING_KEYS
    cfg = compose("task=evidence_accumulation")
    assert ", ".join(sorted(cfg.task)) == EA_KEYS
    assert OmegaConf.get_type(cfg.task).__name__ == "EvidenceAccumulationConfig"


def test_a_key_of_another_task_is_refused_at_composition_in_one_line(tmp_path):
    proc = run_eprop_in_process("run", "task.n_cues=3", f"hydra.run.dir={tmp_path}", check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"eprop: error: task.n_cues: unknown key; valid keys in task: {HANDWRITING_KEYS}; "
        "n_cues is a key of the evidence_accumulation task"
    ]
    assert not (tmp_path / "results.h5").exists()


@pytest.mark.parametrize(
    "overrides,message",
    [
        (
            ("task=evidence_accumulation", "task.input_spike_prob=0.1"),
            f"task.input_spike_prob: unknown key; valid keys in task: {EA_KEYS}; input_spike_prob is a key of the {TRAJECTORY_TASKS} tasks",
        ),
        (("task=evidence_accumulation", "task.foo=1"), f"task.foo: unknown key; valid keys in task: {EA_KEYS}"),
        (("task=evidence_accumulation", "task.cue_ms=abc"), "task.cue_ms=abc: not a valid float"),
        (
            ("task=infinite_loop", "task.data_format=deltas"),
            "task.data_format=deltas: must be one of increments, samples",
        ),
    ],
)
def test_task_keys_are_checked_against_the_composed_tasks_schema(compose, overrides, message):
    with pytest.raises(UserError) as info:
        compose(*overrides)
    assert str(info.value) == message


@pytest.mark.parametrize(
    "overrides,message",
    [
        (("task=evidence_accumulation", "task.cue_ms=-100"), "task.cue_ms=-100.0: must be > 0 ms"),
        (("task=evidence_accumulation", "task.prob_group=1.5"), "task.prob_group=1.5: must be a probability in [0, 1]"),
        (
            ("task.target=evidence_accumulation",),
            "task.target=evidence_accumulation: task.clear_first_input_step is not a key of the evidence_accumulation task and "
            "task.bg_noise_ms is missing (the task options were composed for another task); choose the task with task=evidence_accumulation",
        ),
        (
            ("task=evidence_accumulation", "task.target=sine_waves"),
            "task.target=sine_waves: task.bg_noise_ms is not a key of the sine_waves task and task.clear_first_input_step is missing "
            "(the task options were composed for another task); choose the task with task=sine_waves",
        ),
    ],
)
def test_validate_checks_the_bounds_and_keys_of_task_targets_schema(compose, overrides, message):
    with pytest.raises(UserError) as info:
        validate(compose(*overrides))
    assert str(info.value) == message


def test_params_shows_the_task_keys_with_units_and_the_other_tasks_keys_marked(capsys):
    code = cli.main(["run", "--params", "task=evidence_accumulation"])
    out, err = capsys.readouterr()
    assert code == 0 and err == ""
    lines = out.splitlines()
    rows = {line.split(" = ")[0]: line for line in lines if not line.startswith("#")}
    assert rows["task.cue_ms"] == "task.cue_ms = 100.0".ljust(56) + "  # ms, evidence_accumulation: duration of one cue"
    assert rows["task.recall_ms"].endswith(
        "# ms, evidence_accumulation: recall window at the end of each sequence (= NEST's eprop_learning_window)"
    )
    assert rows["task.n_cues"] == "task.n_cues = 7".ljust(56) + "  # evidence_accumulation: cues per sequence"
    assert "task.input_spike_prob" not in rows
    others = [line for line in lines if line.startswith("#")]
    assert [line.split(" = ")[0] for line in others] == [
        f"# task=handwriting|infinite_loop|sine_waves|custom: task.{key}"
        for key in (
            "input_spike_prob",
            "steps_per_data_point",
            "data_file",
            "data_format",
            "sine_periods",
            "clear_first_input_step",
        )
    ] + [
        f"# task=nmnist: task.{key}"
        for key in (
            "data_dir",
            "blocklist_file",
            "n_train",
            "n_test",
            "group_size",
            "sample_ms",
            "learning_window_ms",
            "time_max_us",
        )
    ]
    assert others[4].startswith(
        "# task=handwriting|infinite_loop|sine_waves|custom: task.sine_periods = [1000, 500, 333, 200] "
    )
    assert others[4].endswith("  # time steps, sine_waves: one sine per period")
    code = cli.main(["run", "--params"])  # handwriting: the evidence-accumulation keys at the end, with their units
    out = capsys.readouterr().out.splitlines()
    assert out[-18].startswith("# task=evidence_accumulation: task.n_cues = 7 ")
    assert out[-17].startswith("# task=evidence_accumulation: task.cue_ms = 100.0 ") and out[-17].endswith(
        "  # ms, evidence_accumulation: duration of one cue"
    )


def _ea_parent(compose, tmp_path, *overrides: str):
    import h5py

    from tests.support.synthetic_results import write_run

    parent = tmp_path / "parent"
    write_run(parent / "results.h5")
    with h5py.File(parent / "results.h5", "a") as f:
        f.attrs["config_source_yaml"] = OmegaConf.to_yaml(compose("task=evidence_accumulation", *overrides))
    return parent


@pytest.mark.slow
def test_a_resumed_evidence_accumulation_run_merges_with_its_tasks_schema(compose, tmp_path, capsys):
    from eprop.training.resume import resume_config

    parent = _ea_parent(compose, tmp_path, "task.cue_ms=120")
    cfg, _ = resume_config(compose(f"resume={parent}"), ["task.n_iter=9", "task.n_cues=5"])
    assert OmegaConf.get_type(cfg.task).__name__ == "EvidenceAccumulationConfig"
    assert (cfg.task.n_iter, cfg.task.n_cues, cfg.task.cue_ms) == (9, 5, 120.0)
    assert ", ".join(sorted(cfg.task)) == EA_KEYS
    with pytest.raises(Exception) as info:  # the typed schema of the task checks the types of the overrides
        resume_config(compose(f"resume={parent}"), ["task.n_cues=abc"])
    from eprop.cli.boundary import exit_status

    assert exit_status(info.value) == ("eprop: error: task.n_cues=abc: not a valid integer", 2)
    code = cli.main(["run", f"resume={parent}", "--cfg", "job", "task.n_iter=9", "task.input_spike_prob=0.1"])
    assert code == 2
    assert capsys.readouterr().err.splitlines() == [
        f"eprop: error: task.input_spike_prob: unknown key; valid keys in task: {EA_KEYS}; "
        f"input_spike_prob is a key of the {TRAJECTORY_TASKS} tasks"
    ]


def test_a_parent_written_with_the_former_flat_task_schema_resumes(compose, tmp_path):
    """Files of an eprop whose one task schema held every task's keys: the keys this task's schema lacks are dropped."""
    import h5py

    from eprop.training.resume import resume_config

    parent = _ea_parent(compose, tmp_path)
    with h5py.File(parent / "results.h5", "a") as f:
        old = OmegaConf.create(f.attrs["config_source_yaml"])
        old.task.merge_with({"input_spike_prob": 0.05, "data_file": None, "sine_periods": [1000, 500, 333, 200]})
        f.attrs["config_source_yaml"] = OmegaConf.to_yaml(old)
    cfg, _ = resume_config(compose(f"resume={parent}"), ["task.n_iter=9"])
    assert ", ".join(sorted(cfg.task)) == EA_KEYS


# ------------------------------------------------------------------ a task added in a test


@dataclass
class ConstantConfig(TaskConfig):
    """A test task's own keys."""

    level: float = param(0.5, "target level of every output", unit="dimensionless", finite=True)
    n_out: int = param(2, "readout neurons", min_int=1)


class Constant(Task):
    """A regression task whose outputs learn a constant level; inputs: one spike per input neuron at step 1."""

    config_schema = ConstantConfig

    def check(self, cfg) -> None:
        if cfg.task.sequence_steps is None:
            raise UserError("task.sequence_steps: must be set for task.target=constant")

    @property
    def n_inputs(self) -> int:
        return int(self.cfg.task.n_in)

    @property
    def n_outputs(self) -> int:
        return int(self.cfg.task.n_out)

    @property
    def sequence_steps(self) -> int:
        return int(self.cfg.task.sequence_steps)

    def draw(self, rng) -> None:
        pass

    def iteration_signals(self, k: int, phase: int = 0) -> IterationSignals:
        steps, batch = self.sequence_steps, int(self.cfg.task.batch_size)
        inputs = [np.arange(batch, dtype=float) * steps + 1.0 for _ in range(self.n_inputs)]
        return IterationSignals(inputs, np.full((self.n_outputs, steps * batch), float(self.cfg.task.level)))

    def iteration_outcome(self, readout, readout_ids, timing) -> Outcome:
        return Outcome(mean_squared_error(readout, readout_ids, timing))


CONSTANT_YAML = """\
defaults:
  - _schema_constant

name: constant
target: constant
n_in: 3
sequence_steps: 20        # time steps
level: 0.25               # dimensionless
"""


@pytest.fixture
def constant_task(monkeypatch, tmp_path):
    """The task `constant` added as a new task is: its module's classes in TASKS and conf/task/constant.yaml
    (here in a directory on Hydra's search path); the registry and the ConfigStore are restored after."""
    from hydra.core.config_store import ConfigStore

    from eprop.config.store import register_configs

    monkeypatch.setitem(TASKS, "constant", Constant)
    conf = tmp_path / "conf"
    (conf / "task").mkdir(parents=True)
    (conf / "task" / "constant.yaml").write_text(CONSTANT_YAML)
    register_configs()
    yield f"hydra.searchpath=[file://{conf}]"
    ConfigStore.instance().repo["task"].pop("_schema_constant.yaml", None)


@pytest.mark.slow
def test_a_task_added_with_its_module_and_yaml_composes_validates_and_trains(constant_task, compose, tmp_path):
    from eprop.results import open_results
    from eprop.training.loop import train

    small = (constant_task, "task=constant", "neuron.rec.n=4", "recording=minimal", "progress=false")
    cfg = compose(*small, "task.n_iter=2")
    assert (cfg.task.level, cfg.task.n_out, ", ".join(sorted(cfg.task))) == (
        0.25,
        2,
        "batch_size, delay_in_rec, delay_out_norm, delay_rec_out, extension_sim, level, n_in, n_iter, n_out, "
        "name, offset_gen, sequence_steps, target",
    )
    validate(cfg)
    with pytest.raises(UserError) as info:  # its bounds, from its own field metadata
        validate(compose(*small, "task.level=inf"))
    assert str(info.value) == "task.level=inf: must be a finite number"
    with pytest.raises(UserError) as info:  # another task's key
        compose(*small, "task.n_cues=3")
    assert str(info.value) == (
        "task.n_cues: unknown key; valid keys in task: batch_size, delay_in_rec, delay_out_norm, "
        "delay_rec_out, extension_sim, level, n_in, n_iter, n_out, name, offset_gen, sequence_steps, "
        "target; n_cues is a key of the evidence_accumulation task"
    )
    train(cfg, tmp_path / "run", sim=FakeSimulator())
    with open_results(tmp_path / "run") as res:
        assert (res.status, res.n_iter_done, res.config["task"]["level"]) == ("complete", 2, 0.25)
