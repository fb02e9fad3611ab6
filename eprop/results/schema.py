"""The layout of a results file (schema version 1): the `SCHEMA` table and the units of every dataset.

`SCHEMA` is the "HDF5 schema" table of docs/results.md (`python -m eprop.results --schema-markdown`
prints it, `schema_markdown()` returns it; tests/unit/test_read_layout.py checks that the page holds it
unchanged). `UNITS` gives every dataset the `units` and one-line `description` attributes the
writer stores with it. Pure data: no HDF5 here.
"""

from __future__ import annotations

import fnmatch

SCHEMA_VERSION = 1  # the layout version written to, and accepted from, the root attribute schema_version


# The layout of a results file: (path, shape and type, content), one row per dataset group.
# The "HDF5 schema" table of docs/results.md is this table (`python -m eprop.results --schema-markdown`
# prints it; tests/unit/test_read_layout.py checks that the page holds it unchanged).
SCHEMA: tuple[tuple[str, str, str], ...] = (
    (
        "`/loss`",
        "(n_iter_done,) f8",
        "total loss per iteration: Σ over outputs of ½ Σ_t (y − y*)², the seed's definition (for "
        "`batch_size > 1`, averaged over the batch's sequences)",
    ),
    ("`/loss_per_output`", "(n_out, n_iter_done) f8", "the same per readout neuron"),
    ("`/target`", "(n_out, steps per sequence) f8", "the target signal of one sequence (regression tasks)"),
    (
        "`/accuracy`",
        "(n_iter_done,) f8",
        "classification tasks (root attribute `task_kind`): fraction of the iteration's sequences whose "
        "readout with the larger mean signal in the learning window is the label; `/loss` is then the "
        "cross-entropy, mean over sequences and window steps of −Σ_k y*_k log y_k (units 1)",
    ),
    (
        "`/phase`",
        "(n_iter_done,) i1",
        "classification tasks: each iteration's phase, 0 training, 1 validation, 2 early stopping, 3 test "
        "(root attribute `phase_names`, JSON; see eprop/config/phases.py); the learning rate is `optimizer.eta` in "
        "training and 0 otherwise. A file without it: every iteration is training",
    ),
    (
        "`/labels`, `/predicted`",
        "(n_iter_done, batch_size) i8",
        "classification tasks: each sequence's label and predicted class",
    ),
    (
        "`/input_pixel`",
        "(n_in,) i8",
        "`task=nmnist`: the pixel of each input neuron, polarity · 34 · 34 + y · 34 + x (root attribute "
        "`display` holds `input_image_shape` [2, 34, 34]); `/loss` is then the example's mean squared error "
        "(root attribute `loss_function`)",
    ),
    (
        "`/events_recorded`",
        "(n_iter_done,) i1",
        "1 if the recorders' events of the iteration are in `/events`, 0 if the recording schedule "
        "(`recording.events_every`, `events_first`, `events_last`) left them out (their slices are empty); "
        "a file without it has the events of every iteration",
    ),
    (
        "`/events/<recorder>/<field>`",
        "(n_events,) i8/f8",
        "recorder events, appended after every iteration that the recording schedule keeps. Recorders: `multimeter_rec` (`senders`, "
        "`times`, the recorded state variables), `multimeter_out` (`senders`, `times`, "
        "`readout_signal`, `target_signal`, ...), `spike_recorder` (`senders`, `times`; without the"
        " spike that the final-update generator forces from every input and recurrent neuron at the"
        " task's last step, so silent neurons count as silent), `weight_recorder` (`senders`, "
        "`targets`, `times`, `weights`, sorted by time, sender, target). Times in ms.",
    ),
    (
        "`/events/<recorder>/iteration_start`",
        "(n_iter_done + 1,) i8",
        "index of each iteration's first event: iteration k is `[start[k], start[k+1])`, so one "
        "iteration is one HDF5 slice",
    ),
    (
        "`/weights/{initial,final}/<projection>/{source,target,weight}`",
        "(n_conn,) i8, i8, f8 (pA)",
        "`in_rec`, `rec_rec`, `rec_out`, `out_rec`, sorted by (source, target); only the existing "
        "connections (no autapses; with `weights.<projection>.sparsity`, only the pairs its mask kept)",
    ),
    ("`/neurons/{input,recurrent,readout}`", "(n,) i8", "NEST node ids"),
    (
        "`/optimizer/<projection>/{source,target,m,v}`",
        "(n_conn,)",
        "Adam's per-synapse moments at the end (or interruption) of the run, for `resume`; absent for gradient descent",
    ),
)


def schema_markdown() -> str:
    """SCHEMA as the Markdown table of the "HDF5 schema" section of docs/results.md."""
    lines = ["| path | shape, type | content |", "|---|---|---|"]
    lines += [f"| {path} | {shape} | {content} |" for path, shape, content in SCHEMA]
    return "\n".join(lines)


# Units and a one-line description of every dataset, by path pattern (fnmatch, first match wins).
# Event fields are matched by their name under /events/<recorder>/. Units follow NEST's model
# documentation (NEST documents the readout, target and error signals in mV).
UNITS: dict[str, tuple[str, str]] = {
    "loss": (
        "mV^2",
        "total loss per iteration: sum over outputs of 1/2 sum_t (y - y*)^2, averaged over a batch's sequences",
    ),
    "loss_per_output": ("mV^2", "loss per readout neuron (rows, in /neurons/readout order) and iteration (columns)"),
    "target": ("mV", "target signal y* of one sequence: one row per output, one column per time step"),
    "accuracy": ("1", "classification: fraction of an iteration's sequences whose predicted class is the label"),
    "phase": (
        "phase code",
        "phase of each iteration: 0 training, 1 validation, 2 early stopping, 3 test (names in the root attribute phase_names)",
    ),
    "labels": (
        "class index",
        "classification: label of each sequence (rows: iterations, columns: sequences of the batch)",
    ),
    "predicted": (
        "class index",
        "classification: predicted class (argmax over readouts of the mean readout signal in the "
        "learning window) of each sequence",
    ),
    "neurons/*": ("node id", "NEST node ids of this population, in the order of the weight matrices"),
    "input_pixel": (
        "pixel",
        "nmnist: the pixel of each input neuron, polarity * 34 * 34 + y * 34 + x (root attribute "
        "display.input_image_shape = [2, 34, 34])",
    ),
    "events_recorded": (
        "1",
        "1 if the recorders' events of this iteration are in /events, 0 if the recording schedule "
        "(recording.events_*) left them out (empty slice)",
    ),
    "events/*/iteration_start": (
        "event index",
        "index of each iteration's first event: iteration k is [start[k], start[k+1])",
    ),
    "events/*/senders": ("node id", "NEST node id of the neuron (or synapse source) that sent the event"),
    "events/*/targets": ("node id", "NEST node id of the synapse's target neuron"),
    "events/*/times": ("ms", "time of the event (simulation time)"),
    "events/multimeter_out/V_m": ("mV", "membrane voltage v_k of the readout neuron"),
    "events/*/V_m": ("mV", "membrane voltage v_j"),
    "events/*/V_th_adapt": ("mV", "adapting spike threshold A_j"),
    "events/*/adaptation": (
        "mV",
        "threshold adaptation variable a_j (A_j = V_th + adapt_beta a_j, adapt_beta dimensionless)",
    ),
    "events/*/surrogate_gradient": ("1", "surrogate gradient (pseudo-derivative) psi_j of the membrane voltage"),
    "events/*/learning_signal": ("pA", "learning signal L_j fed back from the readout errors"),
    "events/*/readout_signal": ("mV", "readout signal y_k"),
    "events/*/readout_signal_unnorm": ("mV", "readout signal before normalization"),
    "events/*/target_signal": ("mV", "target signal y*_k"),
    "events/*/error_signal": ("mV", "error signal y_k - y*_k"),
    "events/weight_recorder/weights": ("pA", "synaptic weight when the synapse transmitted a spike"),
    "events/*": ("1", "recorded state variable (no unit known to eprop)"),
    "weights/*/*/source": ("node id", "presynaptic neuron, NEST node id"),
    "weights/*/*/target": ("node id", "postsynaptic neuron, NEST node id"),
    "weights/initial/*/weight": ("pA", "synaptic weight before training"),
    "weights/final/*/weight": ("pA", "synaptic weight at the end of training (pending updates applied)"),
    "optimizer/*/source": ("node id", "presynaptic neuron, NEST node id"),
    "optimizer/*/target": ("node id", "postsynaptic neuron, NEST node id"),
    "optimizer/*/m": ("a.u.", "Adam's first moment (running mean of the e-prop gradient), as NEST holds it"),
    "optimizer/*/v": ("a.u.", "Adam's second moment (running mean of the squared gradient), as NEST holds it"),
}


def units_of(path: str) -> tuple[str, str] | None:
    """(units, description) of the dataset at `path` (no leading slash), or None if the table lacks it."""
    path = path.strip("/")
    for pattern, entry in UNITS.items():
        if fnmatch.fnmatchcase(path, pattern):
            return entry
    return None


def main(argv: list[str] | None = None) -> int:
    """`python -m eprop.results --schema-markdown`: print the schema table of docs/results.md."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if args != ["--schema-markdown"]:
        print("usage: python -m eprop.results --schema-markdown", file=sys.stderr)
        return 2
    print(schema_markdown())
    return 0
