"""Test oracle: NEST 3.10's e-prop evidence-accumulation classification, as a plain NEST script.

Our own re-statement of the setup of NEST's test
`test_eprop_bsshslm_2020_plasticity.py::test_eprop_classification` (the default) and of the
schedule of NEST's example `eprop_supervised_classification_evidence-accumulation_bsshslm_2020.py`
(`--schedule example`). Facts (numbers, models, draw order) are read from those files; the code
is ours.

Three schedules, the same numpy draws:

- `test`: the inputs of all iterations are drawn first, then one `nest.Simulate` over the
  whole task (NEST's test).
- `example`: one iteration at a time: set the learning rate, draw that iteration's inputs,
  hand them to the generators, simulate the iteration in the example's three chunks
  (total offset, one step, the rest).
- `phases`: the example's phases: a validation iteration every `--validate-every` training
  iterations (before training iteration 0, V, 2V, ...); at those checks after the first, if the
  current error is below `--stop-crit`, `--n-early-stop` early-stopping iterations, and the run
  stops if the mean of their errors is below `--stop-crit`; at most `--n-iter-train` training
  iterations; then `--n-test` test iterations. The learning rate is `--eta` in training and 0
  otherwise, set through SetDefaults before each iteration; none is set before connecting. As
  in the example, an iteration is scored only after the first 5 ms of the next one, so the
  "current error" at a check is that of the last training iteration, the early-stopping mean
  takes the errors of the validation and the first n-1 early-stopping iterations, and one more
  training iteration runs after the criterion is met. `phase` stores each iteration's phase
  (codes in `PHASES`); `n_iter` is the number of iterations simulated.

Both end with the example's "final update": one strong spike into every presynaptic neuron of
an e-prop synapse after the task, so the final weights include the last optimizer step (the
readout recording is over by then, so the losses do not depend on it).

    python evidence_accumulation.py OUT.npz [--seed 1] [--n-iter 5] [--batch-size 1]
        [--eta 5e-3] [--schedule test|example|phases] [--n-record-w 1] [--eta-per-iteration E1,E2,...]
        [--n-iter-train 50] [--n-test 4] [--validate-every 10] [--n-early-stop 8] [--stop-crit 0.07] [--eta-late]

`draw_weights` and `draw_iteration` are pure numpy (NEST is imported only in `main`), so the
fast tests can compare eprop's task module against them without NEST.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

# Task (NEST's test and example): 4 input populations of 10 neurons (left cue, right cue,
# recall, background noise), 7 cues, 1 ms steps.
N_SYMBOLS = 4
N_CUES = 7
PROB_GROUP = 0.3  # probability of the minority side for each cue
SPIKE_PROB = 0.04  # per step, cue and recall populations while active; noise gets a quarter
STEPS_CUE = 100  # steps (ms) one cue lasts
STEPS_SPACING = 50  # steps (ms) of silence before each cue
STEPS_BG_NOISE = 1050  # steps (ms) between the last cue and the recall window
STEPS_RECALL = 150  # steps (ms) of the recall window (= learning window)
STEPS_SEQUENCE = N_CUES * (STEPS_CUE + STEPS_SPACING) + STEPS_BG_NOISE + STEPS_RECALL  # 2250

N_IN, N_REG, N_AD, N_OUT = 40, 50, 50, 2
N_REC = N_REG + N_AD

STEP = 1.0  # ms, kernel resolution
OFFSET_GEN = 1  # steps: generators emit from step 1
DELAYS = 3  # steps: in->rec, rec->out, out->out normalisation (1 each)
TOTAL_OFFSET = OFFSET_GEN + DELAYS
EXTENSION_SIM = 1  # steps: closes Simulate's right-open interval
FINAL_UPDATE = 3  # steps simulated after the final-update spike is scheduled

# phase codes of the `phases` schedule, in the order the example introduces them
PHASES = ("training", "validation", "early_stopping", "test")
TRAINING, VALIDATION, EARLY_STOPPING, TEST = range(len(PHASES))


def draw_weights(rng: np.random.RandomState) -> dict[str, np.ndarray]:
    """The four weight matrices (pA, float32), in NEST's draw order, shaped (post, pre)."""
    in_rec = np.array(rng.randn(N_IN, N_REC).T / np.sqrt(N_IN), dtype=np.float32)
    rec_rec = np.array(rng.randn(N_REC, N_REC).T / np.sqrt(N_REC), dtype=np.float32)
    np.fill_diagonal(rec_rec, 0.0)
    limit = np.sqrt(3.0 / max(1.0, (N_REC + N_OUT) / 2.0))  # Glorot uniform
    rec_out = np.array(rng.uniform(-limit, limit, size=(N_REC, N_OUT)).T, dtype=np.float32)
    out_rec = np.array(rng.randn(N_REC, N_OUT), dtype=np.float32)  # (post=rec, pre=out), unscaled
    return {"in_rec": in_rec, "rec_rec": rec_rec, "rec_out": rec_out, "out_rec": out_rec}


def draw_iteration(rng: np.random.RandomState, batch_size: int) -> dict[str, np.ndarray]:
    """One iteration's sequences, drawn step by step as NEST's test does.

    Returns `spikes` (batch, step, input neuron) bools, `cues` (batch, cue) with 0 = left and
    1 = right, `majority` (batch,) the side drawn with probability 1 - PROB_GROUP, and `labels`
    (batch,) = 1 if more than half of the cues are right.
    """
    n_pop = N_IN // N_SYMBOLS
    prob_choices = np.array([PROB_GROUP, 1 - PROB_GROUP], dtype=np.float32)
    side = rng.choice([0, 1], batch_size)
    probs = np.zeros((batch_size, 2), dtype=np.float32)
    probs[:, 0] = prob_choices[side]
    probs[:, 1] = prob_choices[1 - side]
    cues = np.zeros((batch_size, N_CUES), dtype=int)
    for b in range(batch_size):
        cues[b] = rng.choice([0, 1], N_CUES, p=probs[b])
    spike_probs = np.zeros((batch_size, STEPS_SEQUENCE, N_IN))
    for b in range(batch_size):
        for c in range(N_CUES):
            start = c * (STEPS_CUE + STEPS_SPACING) + STEPS_SPACING
            first = cues[b, c] * n_pop
            spike_probs[b, start:start + STEPS_CUE, first:first + n_pop] = SPIKE_PROB
    spike_probs[:, -STEPS_RECALL:, 2 * n_pop:3 * n_pop] = SPIKE_PROB
    spike_probs[:, :, 3 * n_pop:] = SPIKE_PROB / 4.0
    spikes = spike_probs > rng.rand(spike_probs.size).reshape(spike_probs.shape)
    spikes[:, 0, :] = False
    labels = (np.sum(cues, axis=1) > int(N_CUES / 2)).astype(int)
    return {"spikes": spikes, "cues": cues, "majority": 1 - side, "labels": labels}


def spike_times(spikes: np.ndarray, first_step: int) -> list[np.ndarray]:
    """Per input neuron, the float32 spike times (ms) of a (sequence, step, neuron) raster."""
    flat = spikes.reshape(-1, N_IN)
    timeline = (np.arange(flat.shape[0]) + first_step + OFFSET_GEN) * STEP
    return [timeline[flat[:, i]].astype(np.float32) for i in range(N_IN)]


def target_amplitudes(labels: np.ndarray, first_step: int) -> list[dict]:
    """step_rate_generator settings: one-hot target per sequence, from TOTAL_OFFSET on."""
    n_seq = len(labels)
    one_hot = np.zeros((N_OUT, n_seq))
    one_hot[labels, np.arange(n_seq)] = 1.0
    times = (np.arange(n_seq) * STEPS_SEQUENCE + first_step + TOTAL_OFFSET) * STEP
    return [{"amplitude_times": times, "amplitude_values": one_hot[k]} for k in range(N_OUT)]


def main(args: argparse.Namespace) -> None:
    os.environ.setdefault("PYNEST_QUIET", "1")
    import nest

    t_start = time.perf_counter()
    rng = np.random.RandomState(args.seed)
    n_iter, batch = args.n_iter, args.batch_size
    steps_iter = batch * STEPS_SEQUENCE
    steps_task = n_iter * steps_iter

    nest.verbosity = nest.VerbosityLevel.FATAL
    nest.ResetKernel()
    nest.set(
        eprop_learning_window=STEPS_RECALL * STEP,
        eprop_reset_neurons_on_update=True,
        eprop_update_interval=STEPS_SEQUENCE * STEP,
        print_time=False,
        resolution=STEP,
        total_num_virtual_procs=1,
    )

    v_th = 0.6  # mV
    rec_common = {
        "C_m": 1.0,  # pF
        "c_reg": 300.0,
        "E_L": 0.0,  # mV
        "f_target": 10.0,  # spikes/s
        "flush_event_send_interval": STEPS_SEQUENCE * STEP,  # ms
        "I_e": 0.0,  # pA
        "regular_spike_arrival": True,
        "surrogate_gradient_function": "piecewise_linear",
        "surrogate_gradient_height": 0.3 / v_th,
        "surrogate_gradient_width": 1.0 * abs(v_th),
        "t_ref": 5.0,  # ms
        "tau_m": 20.0,  # ms
        "V_m": 0.0,  # mV
        "V_th": v_th,
    }
    adapt_tau = 2000.0  # ms
    ad = {**rec_common, "adapt_tau": adapt_tau, "adaptation": 0.0,
          "adapt_beta": 1.7 * (1.0 - np.exp(-STEP / adapt_tau)) / (1.0 - np.exp(-STEP / rec_common["tau_m"]))}
    out = {"C_m": 1.0, "E_L": 0.0, "I_e": 0.0, "loss": "cross_entropy", "regular_spike_arrival": False,
           "tau_m": 20.0, "V_m": 0.0}

    gen_in = nest.Create("spike_generator", N_IN)
    nrns_in = nest.Create("parrot_neuron", N_IN)
    nrns_reg = nest.Create("eprop_iaf_bsshslm_2020", N_REG, rec_common)
    nrns_ad = nest.Create("eprop_iaf_adapt_bsshslm_2020", N_AD, ad)
    nrns_out = nest.Create("eprop_readout_bsshslm_2020", N_OUT, out)
    gen_target = nest.Create("step_rate_generator", N_OUT)
    nrns_rec = nrns_reg + nrns_ad

    # Recorders: only mm_out matters for the numbers; the others are kept so that node ids
    # and connection order are those of NEST's scripts.
    stop = {} if args.schedule != "test" else {"stop": (TOTAL_OFFSET + steps_task) * STEP}
    stop_rec = {} if args.schedule != "test" else {"stop": (OFFSET_GEN + 1 + steps_task) * STEP}
    record_rec = ["V_m", "surrogate_gradient", "learning_signal"]
    mm_reg = nest.Create("multimeter", {"interval": STEP, "record_from": record_rec,
                                        "start": (OFFSET_GEN + 1) * STEP, **stop_rec})
    mm_ad = nest.Create("multimeter", {"interval": STEP, "record_from": record_rec + ["V_th_adapt", "adaptation"],
                                       "start": (OFFSET_GEN + 1) * STEP, **stop_rec})
    mm_out = nest.Create("multimeter", {"interval": STEP, "start": TOTAL_OFFSET * STEP, **stop,
                                        "record_from": ["V_m", "readout_signal", "readout_signal_unnorm",
                                                        "target_signal", "error_signal"]})
    sr = nest.Create("spike_recorder", {"start": OFFSET_GEN * STEP, **stop})
    n_w = args.n_record_w
    wr = nest.Create("weight_recorder", {"senders": nrns_in[:n_w] + nrns_rec[:n_w],
                                         "targets": nrns_rec[:n_w] + nrns_out,
                                         "start": TOTAL_OFFSET * STEP, **stop})

    w = draw_weights(rng)
    optimizer = {"type": "adam", "batch_size": batch, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-8,
                 "Wmin": -100.0, "Wmax": 100.0}
    if args.schedule != "phases":  # the example sets no learning rate before connecting
        optimizer["eta"] = args.eta
    nest.SetDefaults("eprop_synapse_bsshslm_2020",
                     {"optimizer": optimizer, "average_gradient": True, "weight_recorder": wr})
    eprop = {"synapse_model": "eprop_synapse_bsshslm_2020", "delay": STEP, "tau_m_readout": out["tau_m"]}
    static = {"synapse_model": "static_synapse", "delay": STEP}
    all_to_all = {"rule": "all_to_all", "allow_autapses": False}
    one_to_one = {"rule": "one_to_one"}
    nest.Connect(gen_in, nrns_in, one_to_one, static)
    nest.Connect(nrns_in, nrns_rec, all_to_all, {**eprop, "weight": w["in_rec"]})
    nest.Connect(nrns_rec, nrns_rec, all_to_all, {**eprop, "weight": w["rec_rec"]})
    nest.Connect(nrns_rec, nrns_out, all_to_all, {**eprop, "weight": w["rec_out"]})
    nest.Connect(nrns_out, nrns_rec, all_to_all, {"synapse_model": "eprop_learning_signal_connection_bsshslm_2020",
                                                  "delay": STEP, "weight": w["out_rec"]})
    nest.Connect(gen_target, nrns_out, one_to_one,
                 {"synapse_model": "rate_connection_delayed", "delay": STEP, "receptor_type": 2})
    nest.Connect(nrns_out, nrns_out, all_to_all,
                 {"synapse_model": "rate_connection_delayed", "delay": STEP, "receptor_type": 1, "weight": 1.0})
    nest.Connect(nrns_in + nrns_rec, sr, all_to_all, static)
    nest.Connect(mm_reg, nrns_reg[:1], all_to_all, static)
    nest.Connect(mm_ad, nrns_ad[:1], all_to_all, static)
    nest.Connect(mm_out, nrns_out, all_to_all, static)
    nest.GetConnections(nrns_rec[0], nrns_rec[1:3]).set([{"optimizer": {"m": 0.0, "v": 0.0}}] * 2)
    gen_final = nest.Create("spike_generator", 1)
    nest.Connect(gen_final, nrns_in + nrns_rec, "all_to_all", {"weight": 1000.0})

    def weights(pre, post) -> dict[str, np.ndarray]:
        conns = nest.GetConnections(pre, post).get(["source", "target", "weight"])
        return {key: np.asarray(value) for key, value in conns.items()}

    projections = {"in_rec": (nrns_in, nrns_rec), "rec_rec": (nrns_rec, nrns_rec), "rec_out": (nrns_rec, nrns_out)}
    initial = {name: weights(*pops) for name, pops in projections.items()}

    draws = []
    t_build = time.perf_counter()
    if args.schedule == "test":
        draws = [draw_iteration(rng, batch) for _ in range(n_iter)]
        raster = np.concatenate([d["spikes"] for d in draws])
        labels = np.concatenate([d["labels"] for d in draws])
        gen_in.set([{"spike_times": t} for t in spike_times(raster, 0)])
        gen_target.set(target_amplitudes(labels, 0))
        nest.Simulate((steps_task + TOTAL_OFFSET + EXTENSION_SIM) * STEP)
        t_iter_end = [time.perf_counter()]
    else:
        t_iter_end = []
        online_errors = []  # phases: (iteration, error) as the example scores them, in order
        # (only the phases schedule scores online: it needs the errors, the example schedule's timing does not)

        def score_previous() -> None:
            """The example's evaluation: the error of the last complete iteration, from mm_out."""
            i = len(draws) - 1
            ev = mm_out.get("events")
            times, senders = np.asarray(ev["times"]), np.asarray(ev["senders"])
            sel = (times > i * steps_iter + TOTAL_OFFSET) & (times <= (i + 1) * steps_iter + TOTAL_OFFSET)
            rows = [np.asarray(ev["readout_signal"])[sel][senders[sel] == s] for s in np.unique(senders)]
            readout = np.array(rows).reshape(N_OUT, batch, STEPS_SEQUENCE)[..., -STEPS_RECALL:]
            error = 1.0 - np.mean(np.argmax(np.mean(readout, axis=2), axis=0) == draws[-1]["labels"])
            online_errors.append((i, error))

        def set_eta(eta: float) -> None:
            nest.SetDefaults("eprop_synapse_bsshslm_2020", {"optimizer": {**optimizer, "eta": eta}})

        def run_iteration(eta: float) -> None:
            if not (args.eta_late and draws):
                set_eta(eta)
            draw = draw_iteration(rng, batch)
            first = len(draws) * steps_iter
            gen_in.set([{"spike_times": t} for t in spike_times(draw["spikes"], first)])
            gen_target.set(target_amplitudes(draw["labels"], first))
            nest.Simulate(TOTAL_OFFSET * STEP)
            nest.Simulate(EXTENSION_SIM * STEP)
            if draws and args.schedule == "phases":
                score_previous()
            draws.append(draw)
            if args.eta_late and len(draws) > 1:
                set_eta(eta)
            nest.Simulate((steps_iter - TOTAL_OFFSET - EXTENSION_SIM) * STEP)
            t_iter_end.append(time.perf_counter())

        if args.schedule == "example":
            for i in range(n_iter):
                run_iteration(args.eta_per_iteration[i] if args.eta_per_iteration else args.eta)
        else:
            phases: list[int] = []

            def run_phase(phase: int) -> None:
                run_iteration(args.eta if phase == TRAINING else 0.0)
                phases.append(phase)

            k, stopped = 0, False
            while k < args.n_iter_train and not stopped:
                if k % args.validate_every == 0:
                    run_phase(VALIDATION)
                    current = online_errors[-1][1] if online_errors else 0.0
                    if k > 0 and current < args.stop_crit:
                        errors = []
                        for _ in range(args.n_early_stop):
                            run_phase(EARLY_STOPPING)
                            errors.append(online_errors[-1][1])
                        stopped = bool(np.mean(errors) < args.stop_crit)
                run_phase(TRAINING)
                k += 1
            for _ in range(args.n_test):
                run_phase(TEST)
            n_iter = len(draws)
            steps_task = n_iter * steps_iter
        nest.Simulate(TOTAL_OFFSET * STEP)
        nest.Simulate(EXTENSION_SIM * STEP)
        if args.schedule == "phases":
            score_previous()
    t_sim = time.perf_counter()
    # final update: in the example the spike leaves gen_final at task + total offset + 2 steps
    now = nest.biological_time
    gen_final.set({"spike_times": [now + 1.0 * STEP]})
    nest.Simulate(FINAL_UPDATE * STEP)
    final = {name: weights(*pops) for name, pops in projections.items()}

    # readout and target, per output, in recording order -> (iteration, sequence, output, step)
    ev = mm_out.get("events")
    senders, times = np.asarray(ev["senders"]), np.asarray(ev["times"])
    in_task = times <= (steps_task + TOTAL_OFFSET) * STEP

    def per_output(key: str) -> np.ndarray:
        values = np.asarray(ev[key])
        rows = np.array([values[in_task & (senders == s)] for s in np.unique(senders)])
        return rows.reshape(N_OUT, n_iter, batch, STEPS_SEQUENCE).transpose(1, 2, 0, 3)

    readout = per_output("readout_signal")[..., -STEPS_RECALL:]
    target = per_output("target_signal")[..., -STEPS_RECALL:]
    t_out = np.array([times[in_task & (senders == s)] for s in np.unique(senders)])[0]
    window_times = t_out.reshape(n_iter, batch, STEPS_SEQUENCE)[..., -STEPS_RECALL:]
    loss = -np.mean(np.sum(target * np.log(readout), axis=2), axis=(1, 2))
    predicted = np.argmax(np.mean(readout, axis=3), axis=2)
    labels = np.array([d["labels"] for d in draws])
    accuracy = np.mean(predicted == labels, axis=1)

    raster = np.concatenate([d["spikes"] for d in draws])
    per_neuron = spike_times(raster, 0)
    arrays = {
        "loss": loss,
        "accuracy": accuracy,
        "labels": labels,
        "predicted": predicted,
        "cues": np.array([d["cues"] for d in draws]),
        "majority": np.array([d["majority"] for d in draws]),
        "input/senders": np.concatenate([np.full(len(t), i) for i, t in enumerate(per_neuron)]),
        "input/times": np.concatenate(per_neuron).astype(np.float64),
        "readout_window": readout,
        "target_window": target,
        "window_times": window_times,
        "t_build": t_build - t_start,
        "t_sim": t_sim - t_build,
        "t_iter_end": np.array(t_iter_end) - t_build,
        "t_total": time.perf_counter() - t_start,
    }
    wr_ev = wr.get("events")
    for key in ("senders", "targets", "times", "weights"):
        arrays[f"wr/{key}"] = np.asarray(wr_ev[key])
    for stage, snap in (("initial", initial), ("final", final)):
        for name, conns in snap.items():
            for key, values in conns.items():
                arrays[f"{stage}/{name}/{key}"] = values
    if args.schedule == "phases":
        arrays["phase"] = np.array(phases)
        arrays["phase_names"] = np.array(PHASES)
        arrays["online_error"] = np.array([error for _, error in online_errors])
        arrays["online_error_iteration"] = np.array([i for i, _ in online_errors])
    np.savez(args.out, **arrays)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", help="output .npz file")
    parser.add_argument("--seed", type=int, default=1, help="numpy seed (default 1)")
    parser.add_argument("--n-iter", type=int, default=5, help="iterations (default 5)")
    parser.add_argument("--batch-size", type=int, default=1, help="sequences per iteration (default 1)")
    parser.add_argument("--eta", type=float, default=5e-3, help="Adam learning rate (default 5e-3)")
    parser.add_argument("--schedule", choices=["test", "example", "phases"], default="test",
                        help="test: draw all, one Simulate; example: per-iteration draws and chunks;"
                             " phases: the example's validation, early stopping and test phase")
    parser.add_argument("--n-record-w", type=int, default=1,
                        help="senders and targets of the weight recorder (test 1, example 5)")
    parser.add_argument("--eta-per-iteration", type=lambda text: [float(x) for x in text.split(",")],
                        help="example schedule: comma-separated learning rate of each iteration, set at its start"
                             " as the example does for its phases (overrides --eta)")
    parser.add_argument("--n-iter-train", type=int, default=50, help="phases: training iterations at most (50)")
    parser.add_argument("--n-test", type=int, default=4, help="phases: test iterations (4)")
    parser.add_argument("--validate-every", type=int, default=10,
                        help="phases: training iterations between validations (10)")
    parser.add_argument("--n-early-stop", type=int, default=8, help="phases: early-stopping iterations (8)")
    parser.add_argument("--stop-crit", type=float, default=0.07, help="phases: error below which to stop (0.07)")
    parser.add_argument("--eta-late", action="store_true",
                        help="example/phases: set each iteration's learning rate after its first 5 ms (where the"
                             " example scores the previous iteration), not at its start; changes the numbers")
    args = parser.parse_args(argv)
    if args.schedule == "phases" and min(args.n_iter_train, args.validate_every, args.n_early_stop) < 1:
        parser.error("--schedule phases needs --n-iter-train, --validate-every and --n-early-stop of at least 1")
    if args.eta_per_iteration and (args.schedule != "example" or len(args.eta_per_iteration) != args.n_iter):
        parser.error("--eta-per-iteration needs --schedule example and one value per iteration")
    return args


if __name__ == "__main__":
    main(parse_args())
