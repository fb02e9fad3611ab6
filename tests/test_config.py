"""Fast tier: composing every config option and preset, derived values, validation errors."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from eprop.cli.main import conf_dir
from eprop.config.validation import validate
from eprop.errors import UserError

from .conftest import run_eprop_in_process
from .neuron_options import NEURON_OPTIONS

CONF = Path(conf_dir())


def options(group: str) -> list[str]:
    """A group's options; files starting with `_` are shared parts, not options (as in `eprop run --help`)."""
    return sorted(p.stem for p in (CONF / group).glob("*.yaml") if not p.stem.startswith("_"))


def data_file(compose, choice: str, path) -> list[str]:
    """`task.data_file=PATH` if the task CHOICE composes has that key (the trajectory tasks), else nothing."""
    return [f"task.data_file={path}"] if "data_file" in compose(choice).task else []


@pytest.mark.slow
@pytest.mark.parametrize("group", ["task", "neuron", "optimizer", "recording", "kernel", "model"])
def test_every_group_option_composes_and_validates(compose, group, handwriting_file, nmnist_dir):
    assert options(group), f"conf/{group}/ has no options"
    for option in options(group):
        # the event-based neurons belong to model=eprop, and so does task=nmnist (with its data set)
        family = ["model=eprop"] if group == "neuron" and option.startswith("eprop_") else []
        if f"{group}={option}" == "task=nmnist":
            from .test_nmnist_data import offline_blocklist

            family = [
                "model=eprop",
                "neuron=eprop_iaf",
                f"task.data_dir={nmnist_dir}",
                f"task.blocklist_file={offline_blocklist()}",
            ]
        cfg = compose(*family, f"{group}={option}", *data_file(compose, f"{group}={option}", handwriting_file))
        OmegaConf.resolve(cfg)
        assert OmegaConf.select(cfg, group) is not None
        validate(cfg)


@pytest.mark.slow
def test_every_experiment_preset_composes(compose, handwriting_file):
    presets = options("experiment")
    assert "handwriting_converge" in presets
    for preset in presets:
        cfg = compose(f"experiment={preset}", *data_file(compose, f"experiment={preset}", handwriting_file))
        OmegaConf.resolve(cfg)
        assert cfg.experiment == preset


def test_handwriting_converge_holds_only_deltas(compose):
    cfg = compose("experiment=handwriting_converge")
    base = compose()
    assert cfg.task.n_iter == 5000
    assert base.task.n_iter == 5
    assert cfg.optimizer == base.optimizer  # untouched groups stay as the defaults


def test_defaults_are_the_seed_values(compose):
    cfg = compose()
    assert (cfg.task.name, cfg.task.n_iter, cfg.task.batch_size) == ("handwriting", 5, 1)
    assert (cfg.task.n_in, cfg.neuron.rec.n, cfg.task.steps_per_data_point) == (100, 200, 8)
    assert (cfg.optimizer.type, cfg.optimizer.eta, cfg.optimizer.Wmin, cfg.optimizer.Wmax) == (
        "adam",
        5e-3,
        -100.0,
        100.0,
    )
    assert cfg.seed == 1 and cfg.progress is True and cfg.output.file == "results.h5"
    assert (cfg.recording.n_record, cfg.recording.n_record_w) == (1, 3)


def test_derived_neuron_values_follow_the_seed_formulas(compose):
    rec = compose().neuron.rec
    # NEST 3.10 renamed gamma: height = gamma / V_th, width = V_th
    assert rec.surrogate_gradient_height == 0.3 / 0.03
    assert rec.surrogate_gradient_width == 0.03
    expected_beta = 1.7 * (1.0 - math.exp(-1.0 / 2000.0)) / (1.0 - math.exp(-1.0 / 30.0))
    assert rec.adapt_beta == expected_beta
    changed = compose("neuron.rec.adapt_tau=1000", "neuron.rec.tau_m_mean=20", "neuron.rec.V_th=0.06").neuron.rec
    assert changed.adapt_beta == 1.7 * (1.0 - math.exp(-1.0 / 1000.0)) / (1.0 - math.exp(-1.0 / 20.0))
    assert changed.surrogate_gradient_height == 0.3 / 0.06
    assert changed.surrogate_gradient_width == 0.06


def test_run_dir_has_microseconds(compose):
    cfg = compose(return_hydra_config=True)
    assert re.fullmatch(r"outputs/handwriting/\d{4}-\d\d-\d\d/\d\d-\d\d-\d\d-\d{6}", cfg.hydra.run.dir)
    assert re.fullmatch(r"outputs/multirun/\d{4}-\d\d-\d\d/\d\d-\d\d-\d\d-\d{6}", cfg.hydra.sweep.dir)


VALIDATION_CASES = [
    ("task.n_iter=0", "task.n_iter=0: must be an integer >= 1"),
    ("task.batch_size=0", "task.batch_size=0: must be an integer >= 1"),
    ("kernel.threads=0", "kernel.threads=0: must be an integer >= 1"),
    ("kernel.resolution=0", "kernel.resolution=0.0: must be > 0 ms"),
    ("neuron.rec.tau_m_mean=-30", "neuron.rec.tau_m_mean=-30.0: must be > 0 ms"),
    ("neuron.rec.adapt_tau=0", "neuron.rec.adapt_tau=0.0: must be > 0 ms"),
    ("neuron.readout.tau_m=0", "neuron.readout.tau_m=0.0: must be > 0 ms"),
    ("optimizer.eta=-1", "optimizer.eta=-1.0: must be > 0"),
    ("optimizer.Wmin=200", "optimizer.Wmin=200.0, optimizer.Wmax=100.0: Wmin must be < Wmax (pA)"),
    ("task.input_spike_prob=1.5", "task.input_spike_prob=1.5: must be a probability in [0, 1]"),
    ("recording.n_record=500", "recording.n_record=500: must be <= neuron.rec.n=200"),
    ("recording.out_variables=[V_m]", "recording.out_variables: must contain readout_signal (the loss needs it)"),
    ("seed=0", "seed=0: must be an integer >= 1"),
    (
        "kernel.total_num_virtual_procs=2",
        "kernel.total_num_virtual_procs=2: must equal kernel.threads=1 (this NEST build has no MPI, so each virtual process is one thread)",
    ),
    ("task.data_file=/no/such/file.txt", "task.data_file=/no/such/file.txt: no such file"),
    ("recording.n_record_w=500", "recording.n_record_w=500: must be <= min(task.n_in, neuron.rec.n)=100"),
    (
        "output.file=sub/r.h5",
        "output.file=sub/r.h5: must be a plain file name (it is written inside the run directory)",
    ),
    ("output.file=''", "output.file=: must be a plain file name (it is written inside the run directory)"),
    # issue 19, item 1: every float finite (one message), the physical bounds, named where set
    ("neuron.rec.V_th=nan", "neuron.rec.V_th=nan: must be a finite number"),
    ("neuron.rec.V_th=inf", "neuron.rec.V_th=inf: must be a finite number"),
    ("neuron.rec.gamma=nan", "neuron.rec.gamma=nan: must be a finite number"),
    ("neuron.rec.c_reg=nan", "neuron.rec.c_reg=nan: must be a finite number"),
    ("neuron.rec.c_reg=-1", "neuron.rec.c_reg=-1.0: must be >= 0"),
    ("neuron.rec.gamma=0", "neuron.rec.gamma=0.0: must be > 0"),
    ("neuron.rec.I_e=-inf", "neuron.rec.I_e=-inf: must be a finite number"),
    ("optimizer.eta=nan", "optimizer.eta=nan: must be a finite number"),
    ("neuron.rec.tau_m_mean=nan", "neuron.rec.tau_m_mean=nan: must be a finite number"),
    (
        "neuron.rec.V_th=-0.03",
        "neuron.rec.V_th=-0.03: must be > neuron.rec.E_L=0.0 mV (the threshold above the resting potential; "
        "NEST's e-prop neurons start and reset at E_L)",
    ),
    (
        "neuron.rec.E_L=-70 neuron.rec.V_th=-55",  # bsshslm_2020: height = gamma / V_th, width = V_th
        "neuron.rec.gamma=0.3, neuron.rec.V_th=-55.0: give neuron.rec.surrogate_gradient_height=-0.00545455 "
        "(derived), which must be > 0",
    ),
    (
        "model=eprop neuron=eprop_iaf_psc_delta neuron.rec.V_reset=0.6",
        "neuron.rec.V_reset=0.6: must be < neuron.rec.V_th=0.5 mV (NEST 3.10's V_reset < V_th)",
    ),
    ("model=eprop neuron=eprop_iaf neuron.rec.kappa=1.5", "neuron.rec.kappa=1.5: must be a probability in [0, 1]"),
    (
        "model=eprop neuron=eprop_iaf neuron.rec.surrogate_gradient_height=0",
        "neuron.rec.surrogate_gradient_height=0.0: must be > 0",
    ),
    ("+neuron.rec.params.V_min=nan", "neuron.rec.params.V_min=nan: must be a number"),
    # issue 19, item 8: a key the chosen option does not use is refused, not ignored
    (
        "optimizer=gradient_descent optimizer.beta_1=0.5",
        "optimizer.beta_1: not used by optimizer=gradient_descent (only by adam)",
    ),
    (
        "optimizer=gradient_descent optimizer.epsilon=1e-6",
        "optimizer.epsilon: not used by optimizer=gradient_descent (only by adam)",
    ),
    (
        "neuron=lif_alif +neuron.rec_extra.0.overrides.V_th=nan",
        "neuron.rec_extra[0].overrides.V_th=nan: must be a finite number",
    ),
]


def test_an_infinite_value_passes_where_the_schema_allows_it(compose):
    validate(compose("model=eprop", "neuron=eprop_iaf", "neuron.rec.eprop_isi_trace_cutoff=inf"))  # NEST's default
    with pytest.raises(UserError) as info:
        validate(compose("model=eprop", "neuron=eprop_iaf", "neuron.rec.eprop_isi_trace_cutoff=nan"))
    assert str(info.value) == "neuron.rec.eprop_isi_trace_cutoff=nan: must be a number"


def test_an_integer_written_as_a_float_is_refused_without_quoting_a_value_never_typed(compose):
    with pytest.raises(UserError) as info:
        compose("task.n_iter=1e3")
    assert str(info.value) == (
        "task.n_iter: must be an integer; write task.n_iter=1000 "
        "(a value with an exponent or a decimal point, such as 1e3, is a float)"
    )


@pytest.mark.parametrize("override,message", VALIDATION_CASES)
def test_validation_errors_name_the_key(compose, override, message):
    cfg = compose(*override.split())
    with pytest.raises(UserError) as info:
        validate(cfg)
    assert str(info.value) == message


CLI_CASES = [
    (
        "task=foo",
        "eprop: error: task=foo: no such option; valid options: custom, evidence_accumulation, handwriting, infinite_loop, nmnist, sine_waves",
    ),
    ("optimizer=sgd", "eprop: error: optimizer=sgd: no such option; valid options: adam, gradient_descent"),
    ("optimizer.eta=abc", "eprop: error: optimizer.eta=abc: not a valid float"),
    ("kernel.threads=1.5", "eprop: error: kernel.threads=1.5: not a valid integer"),
    ("progress=maybe", "eprop: error: progress=maybe: not a valid bool"),
    ("+foo=1", "eprop: error: foo: unknown key; the schema has no such field (see `eprop run --cfg job`)"),
    ("task.n_iter=0", "eprop: error: task.n_iter=0: must be an integer >= 1"),
]


@pytest.mark.parametrize("override,line", CLI_CASES)
def test_cli_user_errors_are_one_line_with_exit_2(tmp_path, override, line):
    proc = run_eprop_in_process("run", override, f"hydra.run.dir={tmp_path / 'run'}", "progress=false", check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [line]
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not (tmp_path / "run" / "results.h5").exists()


def test_cli_unknown_key_lists_the_valid_keys(tmp_path):
    proc = run_eprop_in_process("run", "task.foo=1", f"hydra.run.dir={tmp_path}", check=False)
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    # the keys of the chosen task (handwriting) only: each task declares its own (before: every task's keys)
    assert line == (
        "eprop: error: task.foo: unknown key; valid keys in task: batch_size, clear_first_input_step, data_file, "
        "data_format, delay_in_rec, delay_out_norm, delay_rec_out, extension_sim, input_spike_prob, n_in, n_iter, "
        "name, offset_gen, sequence_steps, sine_periods, steps_per_data_point, target"
    )


def test_cli_without_command_is_one_line_and_exits_2():
    proc = run_eprop_in_process(check=False)  # issue 19 item 10: one line, not the usage block
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == "eprop: error: no command given; valid commands: run, plot, eval\n"
    proc = run_eprop_in_process("frobnicate", check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "eprop: error: unknown command 'frobnicate'; valid commands: run, plot, eval"


@pytest.mark.parametrize("option", sorted(NEURON_OPTIONS))
def test_neuron_options_compose_to_the_same_values_from_their_shared_parts(compose, option):
    """conf/neuron/ writes each value once (_neuron, _bsshslm_2020, _event_based, _psc_delta); every
    option still composes to the values it had when each file held its own copy."""
    family = "eprop" if option.startswith("eprop_") else "bsshslm_2020"
    cfg = compose(f"model={family}", f"neuron={option}")
    values = OmegaConf.to_container(cfg.neuron, resolve=True, enum_to_str=True)
    assert values.pop("rec_extra") == []  # one recurrent population (issue 11 added the list of further ones)
    assert values == NEURON_OPTIONS[option]


def test_shared_neuron_parts_are_not_options(capsys):
    from eprop.cli import main as cli

    assert cli.main(["run", "neuron=_event_based"]) == 2
    assert capsys.readouterr().err.strip() == (
        "eprop: error: neuron=_event_based: no such option; valid options: "
        "alif, eprop_iaf, eprop_iaf_adapt, eprop_iaf_psc_delta, eprop_iaf_psc_delta_adapt, lif, lif_alif"
    )


@pytest.mark.parametrize(
    "section,params,message",
    [
        (
            "neuron.rec",
            {"V_th": 0.06},
            "neuron.rec.params.V_th: shadows the schema field neuron.rec.V_th; set neuron.rec.V_th=... instead "
            "(values derived from it follow it)",
        ),
        (
            "optimizer",
            {"eta": 0.1},
            "optimizer.params.eta: shadows the schema field optimizer.eta; set optimizer.eta=... instead (values derived from it follow it)",
        ),
        (
            "kernel",
            {"resolution": 0.5},
            "kernel.params.resolution: shadows the schema field kernel.resolution; set kernel.resolution=... instead "
            "(values derived from it follow it)",
        ),
    ],
)
def test_params_that_shadow_a_schema_field_are_refused(section, params, message):
    """Before: +neuron.rec.params.V_th reached NEST while surrogate_gradient_height stayed gamma / the old V_th."""
    from eprop.config.validation import shadowed_field

    with pytest.raises(UserError) as info:
        shadowed_field(section, params)
    assert str(info.value) == message
    shadowed_field(section, {"V_min": 0.0, "tau_m": 20.0})  # NEST parameters without a schema field pass


def test_recurrent_pass_through_is_checked_for_shadowing_after_nests_names(monkeypatch, compose):
    """The simulator refuses +neuron.rec.params.V_th (NEST's names and types are checked first): the
    translated description carries the shadowing error, simulator.parameters raises it."""
    from eprop.simulator import parameters
    from eprop.training.translate import describe_network

    class FakeNest:
        class random:
            @staticmethod
            def normal(mean, std):
                return ("normal", mean, std)

    defaults = {
        name: 0.0
        for name in (
            "C_m",
            "c_reg",
            "E_L",
            "f_target",
            "surrogate_gradient_height",
            "surrogate_gradient_width",
            "I_e",
            "t_ref",
            "tau_m",
            "V_m",
            "V_th",
            "adapt_beta",
            "adapt_tau",
            "V_min",
        )
    }
    defaults.update(surrogate_gradient_function="piecewise_linear", regular_spike_arrival=False)
    monkeypatch.setattr(parameters, "nest", lambda: FakeNest)
    monkeypatch.setattr(parameters, "model_defaults", lambda model: defaults)
    (rec,) = describe_network(compose("+neuron.rec.params.V_th=0.06")).recurrent
    with pytest.raises(UserError, match=r"^neuron.rec.params.V_th: shadows the schema field neuron.rec.V_th;"):
        parameters.recurrent_params(rec, 1000.0)
    (rec,) = describe_network(compose("+neuron.rec.params.V_min=-1.0")).recurrent
    assert parameters.recurrent_params(rec, 1000.0)["V_min"] == -1.0


@pytest.mark.parametrize(
    "override,message",
    [
        (
            "task.target=sinewaves",
            "task.target=sinewaves: must be one of handwriting, infinite_loop, sine_waves, custom, evidence_accumulation, nmnist",
        ),
        ("optimizer.type=sgd", "optimizer.type=sgd: must be one of adam, gradient_descent"),
        (
            "neuron.rec.surrogate_gradient_function=sigmoid",
            "neuron.rec.surrogate_gradient_function=sigmoid: must be one of "
            "piecewise_linear, exponential, fast_sigmoid_derivative, arctan_derivative",
        ),
        (
            "recording.rec_variables=[V_m,Vm]",
            "recording.rec_variables=Vm: must be one of V_m, surrogate_gradient, "
            "learning_signal, V_th_adapt, adaptation, eprop_history_duration",
        ),
    ],
)
def test_a_closed_choice_fails_at_composition_listing_the_valid_values(compose, override, message):
    with pytest.raises(UserError) as info:
        compose(override)
    assert str(info.value) == message


def test_bounds_units_and_meanings_come_from_the_field_metadata():
    from eprop.config.params_doc import field_docs
    from eprop.config.schema import schema_field

    tau = schema_field("neuron.readout.tau_m")
    assert (tau.unit, tau.meta["positive"]) == ("ms", True)
    assert (
        field_docs()["neuron.readout.tau_m"]
        == "ms, membrane time constant (also the bsshslm_2020 synapses' tau_m_readout)"
    )
    assert schema_field("task.n_iter").meta["min_int"] == 1


def test_closed_choices_are_spelt_as_nest_spells_them():
    """OmegaConf matches a typed value against an Enum member's name, NEST gets its value: they must agree."""
    from enum import Enum

    from eprop.config import schema as config

    enums = [
        v
        for v in vars(config).values()
        if isinstance(v, type) and issubclass(v, Enum) and v.__module__ == config.__name__
    ]
    assert len(enums) >= 8
    for enum in enums:
        assert all(member.name == member.value for member in enum), enum
