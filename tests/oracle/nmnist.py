"""Test oracle: NEST 3.10's N-MNIST e-prop example as a parameterised script, for NEST 3.10.

Our own condensed re-statement of pynest/examples/eprop_plasticity/
eprop_supervised_classification_neuromorphic_mnist.py as the nest-simulator 3.10 wheel installs
it (nest/doc/examples/...). It keeps the example's network, parameters, draw order (one numpy
RandomState seeded with --seed), node creation order, simulation chunks, phases and loss, and
reads the sample files on its own (it imports nothing from eprop, so that it can check it).
Plotting and the download are left out; the data set is a folder in the layout
Train/<digit>/<id>.bin, Test/<digit>/<id>.bin.

Changes against the example, none of which changes its numbers on its own data:
- sizes, iterations, phases, seed and virtual processes are arguments (the example: 150
  recurrent neurons, group_size 100, 10 training and 2 test iterations, seed 1, 4 VPs);
- --n-train / --n-test walk only the first n entries of each loader's permutation (the
  example uses all samples); the permutation itself is drawn over all samples as there;
- a projection whose mask is all zeros is not connected (the example would fail);
- only .bin files count as samples.

    python nmnist.py --data-dir D --blocklist F --out OUT.npz [--n-iter-train N ...]

OUT.npz holds per evaluated iteration: loss (0.5 * sum over the learning window of the squared
error, averaged over outputs and the group), error (1 - accuracy), iteration, label (phase),
and the numbers of connections per projection.
"""

import argparse
import os
import time

os.environ.setdefault("PYNEST_QUIET", "1")

import nest  # noqa: E402
import numpy as np  # noqa: E402

N_X, N_Y, N_POLARITY = 34, 34, 2


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--blocklist", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--group-size", type=int, default=100)
    parser.add_argument("--n-iter-train", type=int, default=10)
    parser.add_argument("--n-iter-test", type=int, default=2)
    parser.add_argument("--early-stopping", action="store_true")
    parser.add_argument("--n-iter-validate-every", type=int, default=10)
    parser.add_argument("--n-iter-early-stop", type=int, default=8)
    parser.add_argument("--stop-crit", type=float, default=0.07)
    parser.add_argument("--n-rec", type=int, default=150)
    parser.add_argument("--n-train", type=int, default=None)
    parser.add_argument("--n-test", type=int, default=None)
    parser.add_argument("--sparsity", type=float, nargs=3, default=[0.75, 0.99, 0.0], metavar=("IN_REC", "REC_REC", "REC_OUT"))
    parser.add_argument("--vps", type=int, default=1, help="total_num_virtual_procs (the example: 4)")
    return parser.parse_args(argv)


def main(args):
    t_start = time.perf_counter()
    rng = np.random.RandomState(args.seed)
    group_size = args.group_size

    steps = {"sequence": 300, "learning_window": 10, "offset_gen": 1, "delay_in_rec": 1, "extension_sim": 1, "final_update": 3}
    steps["delays"] = steps["delay_in_rec"]
    steps["total_offset"] = steps["offset_gen"] + steps["delays"]
    duration = {"step": 1.0}  # ms
    duration.update({key: value * duration["step"] for key, value in steps.items()})

    nest.ResetKernel()
    nest.set(print_time=False, resolution=duration["step"], total_num_virtual_procs=args.vps)
    nest.verbosity = nest.VerbosityLevel.FATAL

    # --- inputs: the pixels the blocklist keeps, in ascending order ---
    blocked = set(np.loadtxt(args.blocklist).tolist())
    n_pixels = N_X * N_Y * N_POLARITY
    active = [pixel for pixel in range(n_pixels) if pixel not in blocked]
    input_of = np.full(n_pixels, -1)
    input_of[active] = np.arange(len(active))

    n_in, n_rec, n_out = len(active), args.n_rec, 10

    params_nrn_out = {"C_m": 1.0, "E_L": 0.0, "eprop_isi_trace_cutoff": 100, "I_e": 0.0, "tau_m": 100.0, "V_m": 0.0}
    kappa = 0.99
    scale_factor = 1.0 - kappa  # the example's rescaling for the removed irregular spike arrival
    params_nrn_rec = {
        "C_m": 1.0,  # pF
        "c_reg": 2.0 / duration["sequence"] / scale_factor**2,
        "E_L": 0.0,  # mV
        "eprop_isi_trace_cutoff": 100,
        "f_target": 10.0,  # spikes/s
        "flush_event_send_interval": duration["sequence"],  # ms
        "I_e": 0.0,  # pA
        "kappa": kappa,
        "kappa_reg": 0.99,
        "surrogate_gradient_function": "piecewise_linear",
        "surrogate_gradient_height": 0.5,
        "surrogate_gradient_width": 1.0 / 1.7,
        "t_ref": 0.0,  # ms
        "tau_m": 30.0,  # ms
        "V_m": 0.0,  # mV
        "V_th": 0.6,  # mV
    }

    # --- nodes, in the example's order (node ids decide the VP of each neuron) ---
    gen_spk_in = nest.Create("spike_generator", n_in)
    nrns_in = nest.Create("parrot_neuron", n_in)
    nrns_rec = nest.Create("eprop_iaf", n_rec, params_nrn_rec)
    nrns_out = nest.Create("eprop_readout", n_out, params_nrn_out)
    gen_rate_target = nest.Create("step_rate_generator", n_out)
    gen_learning_window = nest.Create("step_rate_generator")

    n_record_w = 5
    mm_rec = nest.Create("multimeter", {"interval": duration["step"], "record_from": ["V_m", "surrogate_gradient", "learning_signal"],
                                        "start": duration["offset_gen"] + duration["delay_in_rec"]})
    mm_out = nest.Create("multimeter", {"interval": duration["step"], "record_from": ["V_m", "readout_signal", "target_signal", "error_signal"],
                                        "start": duration["total_offset"]})
    sr_in = nest.Create("spike_recorder", {"start": duration["offset_gen"]})
    sr_rec = nest.Create("spike_recorder", {"start": duration["offset_gen"]})
    wr = nest.Create("weight_recorder", {"senders": nrns_in[:n_record_w] + nrns_rec[:n_record_w],
                                         "targets": nrns_rec[:n_record_w] + nrns_out, "start": duration["total_offset"]})

    # --- weights and masks: the example's draw order ---
    w_in_rec = rng.randn(n_in, n_rec).T / np.sqrt(n_in)
    w_rec_rec = rng.randn(n_rec, n_rec).T / np.sqrt(n_rec)
    np.fill_diagonal(w_rec_rec, 0.0)
    glorot_limit = np.sqrt(3.0 / max(1.0, (n_rec + n_out) / 2.0))
    w_rec_out = rng.uniform(low=-glorot_limit, high=glorot_limit, size=(n_rec, n_out)).T * scale_factor
    w_out_rec = rng.randn(n_rec, n_out) / scale_factor
    for weights, level in ((w_in_rec, args.sparsity[0]), (w_rec_rec, args.sparsity[1]), (w_rec_out, args.sparsity[2])):
        weights *= rng.choice([0, 1], weights.shape, p=[level, 1 - level])

    def recorded_pairs(weights, pre, post):
        targets, sources = np.where(weights)
        return np.array(pre.tolist())[np.unique(sources[:n_record_w])], np.array(post.tolist())[np.unique(targets[:n_record_w])]

    pairs = [recorded_pairs(w_in_rec, nrns_in, nrns_rec), recorded_pairs(w_rec_rec, nrns_rec, nrns_rec),
             recorded_pairs(w_rec_out, nrns_rec, nrns_out)]
    wr.set(senders=np.unique(np.concatenate([p[0] for p in pairs])).tolist(),
           targets=np.unique(np.concatenate([p[1] for p in pairs])).tolist())

    params_common_syn_eprop = {
        "optimizer": {"type": "gradient_descent", "batch_size": 1, "optimize_each_step": False, "Wmin": -100.0, "Wmax": 100.0},
        "weight_recorder": wr,
    }
    eta_test, eta_train = 0.0, 5e-3 * scale_factor**2
    static = {"synapse_model": "static_synapse", "delay": duration["step"]}
    nest.SetDefaults("eprop_synapse", params_common_syn_eprop)

    nest.Connect(gen_spk_in, nrns_in, {"rule": "one_to_one"}, static)

    n_connections = []
    for weights, pre, post in ((w_in_rec, nrns_in, nrns_rec), (w_rec_rec, nrns_rec, nrns_rec), (w_rec_out, nrns_rec, nrns_out)):
        targets, sources = np.where(weights)
        n_connections.append(len(targets))
        if len(targets):
            syn = {"synapse_model": "eprop_synapse", "weight": weights[targets, sources],
                   "delay": [duration["step"]] * len(targets)}
            nest.Connect(np.array(pre.tolist())[sources], np.array(post.tolist())[targets], {"rule": "one_to_one"}, syn)

    all_to_all = {"rule": "all_to_all", "allow_autapses": False}
    nest.Connect(nrns_out, nrns_rec, all_to_all,
                 {"synapse_model": "eprop_learning_signal_connection", "delay": duration["step"], "weight": w_out_rec})
    nest.Connect(gen_rate_target, nrns_out, {"rule": "one_to_one"},
                 {"synapse_model": "rate_connection_delayed", "delay": duration["step"], "receptor_type": 2})
    nest.Connect(gen_learning_window, nrns_out, all_to_all,
                 {"synapse_model": "rate_connection_delayed", "delay": duration["step"], "receptor_type": 1})
    nest.Connect(nrns_in, sr_in, all_to_all, static)
    nest.Connect(nrns_rec, sr_rec, all_to_all, static)
    nest.Connect(mm_rec, nrns_rec[:1], all_to_all, static)
    nest.Connect(mm_out, nrns_out, all_to_all, static)

    # --- samples: digit folders 0..9, sorted names; one permutation per loader ---
    def listing(split):
        paths, labels = [], []
        for label in range(n_out):
            folder = os.path.join(args.data_dir, split, str(label))
            names = sorted(name for name in os.listdir(folder) if name.endswith(".bin")) if os.path.isdir(folder) else []
            paths += [os.path.join(folder, name) for name in names]
            labels += [label] * len(names)
        return paths, labels

    def read_sample(path):
        raw = np.fromfile(path, dtype=np.uint8).astype(np.int64)
        x, y, b2, b3, b4 = (raw[k::5] for k in range(5))
        polarity = b2 >> 7
        t_us = ((b2 & 0x7F) << 16) | (b3 << 8) | b4
        times = np.around(t_us * duration["sequence"] / 336040)  # ms; 336040 us is the longest recording
        inputs = input_of[polarity * N_X * N_Y + y * N_X + x]
        order = np.argsort(inputs, kind="stable")  # per input, the file's order
        inputs, times = inputs[order], times[order]
        bounds = np.searchsorted(inputs, np.arange(n_in + 1))
        return [times[bounds[i] : bounds[i + 1]] for i in range(n_in)]

    class Loader:
        def __init__(self, split, n_use):
            self.paths, self.labels = listing(split)
            self.order = rng.permutation(len(self.paths))
            if n_use is not None:
                self.order = self.order[:n_use]
            self.cursor = 0

        def next_group(self):
            picked = np.take(self.order, range(self.cursor, self.cursor + group_size), mode="wrap")
            self.cursor = (self.cursor + group_size) % len(self.order)
            return [read_sample(self.paths[i]) for i in picked], [self.labels[i] for i in picked]

    loader_train = Loader("Train", args.n_train)
    loader_test = Loader("Test", args.n_test)

    def task_input_output(n_iter_sim, loader):
        inputs, labels = loader.next_group()
        offset = n_iter_sim * group_size * duration["sequence"]
        spike_times = [[] for _ in range(n_in)]
        target = [{"amplitude_times": np.arange(0.0, group_size * duration["sequence"], duration["sequence"]) + offset + duration["total_offset"],
                   "amplitude_values": np.zeros(group_size)} for _ in range(n_out)]
        for k in range(group_size):
            target[labels[k]]["amplitude_values"][k] = 1.0
            for n, relative in enumerate(inputs[k]):
                if len(relative):
                    spike_times[n].extend(offset + k * duration["sequence"] + relative + duration["offset_gen"])
        window = {
            "amplitude_times": np.hstack([np.array([0.0, duration["sequence"] - duration["learning_window"]]) + offset
                                          + k * duration["sequence"] + duration["total_offset"] for k in range(group_size)]),
            "amplitude_values": np.tile([0.0, 1.0], group_size),
        }
        return [{"spike_times": t} for t in spike_times], target, window

    gen_spk_final_update = nest.Create("spike_generator", 1)
    nest.Connect(gen_spk_final_update, nrns_in + nrns_rec, "all_to_all", {"weight": 1000.0})

    # --- phases ---
    results = {"loss": [], "error": [], "iteration": [], "label": []}
    state = {"n_iter_sim": 0, "label": "", "error": 0.0}

    def evaluate():
        events = mm_out.get("events")
        n_sim = state["n_iter_sim"]
        times = events["times"]
        idc = (times > (n_sim - 1) * group_size * duration["sequence"] + duration["total_offset"]) & (
            times <= n_sim * group_size * duration["sequence"] + duration["total_offset"])
        senders = events["senders"]
        shape = (n_out, 1, group_size, steps["sequence"])
        readout = np.array([events["readout_signal"][idc][senders[idc] == i] for i in np.unique(senders)]).reshape(shape)
        target = np.array([events["target_signal"][idc][senders[idc] == i] for i in np.unique(senders)]).reshape(shape)
        readout, target = readout[..., -steps["learning_window"]:], target[..., -steps["learning_window"]:]
        loss = 0.5 * np.mean(np.sum((readout - target) ** 2, axis=3), axis=(0, 2))
        errors = 1.0 - np.mean(np.argmax(np.mean(target, axis=3), axis=0) == np.argmax(np.mean(readout, axis=3), axis=0), axis=1)
        results["iteration"].append(n_sim)
        results["error"].extend(errors)
        results["loss"].extend(loss)
        results["label"].append(state["label"])
        state["error"] = errors[0]

    def run_phase(label, eta, loader):
        params_common_syn_eprop["optimizer"]["eta"] = eta
        nest.SetDefaults("eprop_synapse", params_common_syn_eprop)
        spikes, target, window = task_input_output(state["n_iter_sim"], loader)
        gen_spk_in.set(spikes)
        gen_rate_target.set(target)
        gen_learning_window.set(window)
        nest.Simulate(duration["total_offset"])
        nest.Simulate(duration["extension_sim"])
        if state["n_iter_sim"] > 0:
            evaluate()
        nest.Simulate(group_size * duration["sequence"] - duration["total_offset"] - duration["extension_sim"])
        state["n_iter_sim"] += 1
        state["label"] = label

    k_iter, early_stop = 0, False
    while k_iter < args.n_iter_train and not early_stop:
        if args.early_stopping and k_iter % args.n_iter_validate_every == 0:
            run_phase("validation", eta_test, loader_test)
            if k_iter > 0 and state["error"] < args.stop_crit:
                errors_early_stop = []
                for _ in range(args.n_iter_early_stop):
                    run_phase("early-stopping", eta_test, loader_test)
                    errors_early_stop.append(state["error"])
                early_stop = np.mean(errors_early_stop) < args.stop_crit
        run_phase("training", eta_train, loader_train)
        k_iter += 1
    for _ in range(args.n_iter_test):
        run_phase("test", eta_test, loader_test)
    nest.Simulate(duration["total_offset"])
    nest.Simulate(duration["extension_sim"])
    evaluate()
    t_task = state["n_iter_sim"] * group_size * duration["sequence"] + duration["total_offset"]
    gen_spk_final_update.set({"spike_times": [t_task + duration["extension_sim"] + 1]})
    nest.Simulate(duration["final_update"])

    np.savez(
        args.out,
        loss=np.array(results["loss"]),
        error=np.array(results["error"]),
        iteration=np.array(results["iteration"]),
        label=np.array(results["label"]),
        n_connections=np.array(n_connections),  # in->rec, rec->rec, rec->out
        n_in=n_in,
        seconds=time.perf_counter() - t_start,
    )


if __name__ == "__main__":
    main(parse_args())
