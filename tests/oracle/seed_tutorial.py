"""Test oracle: the NEST e-prop seed tutorials (handwriting, infinite loop), for NEST 3.10.

This is our own condensed re-statement of the two tutorial scripts in ../shared/seeds/,
with the one change NEST 3.10 needs: the neuron parameter `gamma` no longer exists, so
gamma = 0.3 becomes surrogate_gradient_height = gamma / V_th and
surrogate_gradient_width = V_th. Everything else (parameters, draw order from the global
numpy generator, a single nest.Simulate call, the loss) follows the seed as written.
Plotting is left out. The script is run in its own process by the exactness tests and by
the speed benchmark:

    python seed_tutorial.py {handwriting|infinite_loop} N_ITER DATA_FILE OUT.npz [tutorial|floor] [sparsity=IN,REC,OUT] [n_rec=N] [threads=T]

`floor` is NEST's own minimum for the same learning: the same network and numbers with no
recorder but a readout multimeter of readout_signal and target_signal, which the loss needs
(recorders do not act on the network, so the losses are those of `tutorial`). The speed
benchmarks measure eprop against it.

`sparsity=IN,REC,OUT` (e.g. `sparsity=0.75,0.9,none`) adds the sparse connectivity of NEST's
N-MNIST example to the seed: after the four weight draws, one mask per given level (`none`:
no mask, all to all) drawn with the global generator's `choice([0, 1], shape, p=[s, 1 - s])` in
the order in->rec, rec->rec, rec->out, multiplied into the weights, and the non-zero entries
connected one to one in one Connect of node-id arrays per projection (the example's way); the
input spikes are drawn after the masks.

`n_rec=N` (default 200, the seed's) and `threads=T` (default 1: total_num_virtual_procs, as
eprop's kernel.threads) exist for the scaling benchmark only; the seed has neither.
"""

import os
import sys
import time

os.environ.setdefault("PYNEST_QUIET", "1")

import nest  # noqa: E402
import numpy as np  # noqa: E402


def main(task: str, n_iter: int, data_file: str, out: str, recording: str = "tutorial", sparsity: str = "",
         n_rec: int = 200, threads: int = 1) -> None:
    floor = recording == "floor"
    t_start = time.perf_counter()
    seed = 1
    np.random.seed(seed)

    n_batch = 1
    steps = {}
    if task == "handwriting":
        data = np.loadtxt(data_file)
        steps["data_point"] = 8
        steps["sequence"] = len(data) * steps["data_point"]
    else:
        steps["sequence"] = 1258
    steps["learning_window"] = steps["sequence"]
    steps["task"] = n_iter * n_batch * steps["sequence"]
    steps.update(offset_gen=1, delay_in_rec=1, delay_rec_out=1, delay_out_norm=1, extension_sim=1)
    steps["delays"] = steps["delay_in_rec"] + steps["delay_rec_out"] + steps["delay_out_norm"]
    steps["total_offset"] = steps["offset_gen"] + steps["delays"]
    steps["sim"] = steps["task"] + steps["total_offset"] + steps["extension_sim"]
    dt = 1.0  # ms
    duration = {key: value * dt for key, value in steps.items()}
    duration["step"] = dt

    nest.ResetKernel()
    nest.set_verbosity("M_WARNING")
    nest.set(
        eprop_learning_window=duration["learning_window"],
        eprop_reset_neurons_on_update=True,
        eprop_update_interval=duration["sequence"],
        print_time=False,
        resolution=dt,
        total_num_virtual_procs=threads,
        rng_seed=seed,
    )

    n_in, n_out = 100, 2
    tau_m_mean = 30.0  # ms
    gamma, v_th = 0.3, 0.03
    adapt_tau = 2000.0  # ms
    rec = {
        "adapt_tau": adapt_tau,
        "C_m": 250.0,
        "c_reg": 150.0,
        "E_L": 0.0,
        "f_target": 20.0,
        "surrogate_gradient_height": gamma / v_th,  # NEST 3.10 name for the seed's gamma
        "surrogate_gradient_width": v_th,
        "I_e": 0.0,
        "regular_spike_arrival": False,
        "surrogate_gradient_function": "piecewise_linear",
        "t_ref": 0.0,
        "tau_m": nest.random.normal(mean=tau_m_mean, std=2.0),
        "V_m": 0.0,
        "V_th": v_th,
        "adapt_beta": 1.7 * (1.0 - np.exp(-1 / adapt_tau)) / (1.0 - np.exp(-1.0 / tau_m_mean)),
    }
    out_params = {"C_m": 1.0, "E_L": 0.0, "I_e": 0.0, "loss": "mean_squared_error",
                  "regular_spike_arrival": False, "tau_m": 50.0, "V_m": 0.0}

    gen_spk_in = nest.Create("spike_generator", n_in)
    nrns_in = nest.Create("parrot_neuron", n_in)
    nrns_rec = nest.Create("eprop_iaf_adapt_bsshslm_2020", n_rec, rec)
    nrns_out = nest.Create("eprop_readout_bsshslm_2020", n_out, out_params)
    gen_rate_target = nest.Create("step_rate_generator", n_out)

    n_record, n_record_w = 1, 3
    window = {"start": duration["total_offset"], "stop": duration["total_offset"] + duration["task"]}
    mm_rec = None if floor else nest.Create("multimeter", {
        "interval": dt,
        "record_from": ["V_m", "surrogate_gradient", "learning_signal", "V_th_adapt", "adaptation"],
        "start": duration["offset_gen"] + duration["delay_in_rec"],
        "stop": duration["offset_gen"] + duration["delay_in_rec"] + duration["task"],
    })
    mm_out = nest.Create("multimeter", {
        "interval": dt,
        "record_from": ["readout_signal", "target_signal"] if floor else
                       ["V_m", "readout_signal", "readout_signal_unnorm", "target_signal", "error_signal"],
        **window,
    })
    sr = None if floor else nest.Create("spike_recorder", window)
    wr = None if floor else nest.Create("weight_recorder", {
        "senders": nrns_in[:n_record_w] + nrns_rec[:n_record_w],
        "targets": nrns_rec[:n_record_w] + nrns_out,
        **window,
    })

    w_in_rec = np.array(np.random.randn(n_in, n_rec).T / np.sqrt(n_in), dtype=np.float32)
    w_rec_rec = np.array(np.random.randn(n_rec, n_rec).T / np.sqrt(n_rec), dtype=np.float32)
    np.fill_diagonal(w_rec_rec, 0.0)
    w_rec_out = np.array(np.random.randn(n_rec, n_out).T / np.sqrt(n_rec), dtype=np.float32)
    w_out_rec = np.array(np.random.randn(n_rec, n_out) / np.sqrt(n_rec), dtype=np.float32)

    nest.SetDefaults("eprop_synapse_bsshslm_2020", {
        "optimizer": {"type": "adam", "batch_size": n_batch, "beta_1": 0.9, "beta_2": 0.999,
                      "epsilon": 1e-8, "eta": 5e-3, "Wmin": -100.0, "Wmax": 100.0},
        "average_gradient": False,
        **({} if floor else {"weight_recorder": wr}),
    })
    eprop = {"synapse_model": "eprop_synapse_bsshslm_2020", "delay": dt, "tau_m_readout": out_params["tau_m"]}
    static = {"synapse_model": "static_synapse", "delay": dt}
    all_to_all = {"rule": "all_to_all", "allow_autapses": False}
    one_to_one = {"rule": "one_to_one"}
    nest.Connect(gen_spk_in, nrns_in, one_to_one, static)
    levels = sparsity.removeprefix("sparsity=").split(",") if sparsity else ["none"] * 3
    plastic = ((w_in_rec, nrns_in, nrns_rec), (w_rec_rec, nrns_rec, nrns_rec), (w_rec_out, nrns_rec, nrns_out))
    for (w, pre, post), level in zip(plastic, levels):
        if level != "none":
            w *= np.random.choice([0, 1], w.shape, p=[float(level), 1 - float(level)])
    for (w, pre, post), level in zip(plastic, levels):
        if level == "none":
            nest.Connect(pre, post, all_to_all, {**eprop, "weight": w})
        else:
            targets, sources = np.where(w)
            nest.Connect(np.array(pre.tolist())[sources], np.array(post.tolist())[targets], one_to_one,
                         {**eprop, "weight": w[targets, sources].astype(np.float64), "delay": np.full(targets.size, dt)})
    nest.Connect(nrns_out, nrns_rec, all_to_all,
                 {"synapse_model": "eprop_learning_signal_connection_bsshslm_2020", "delay": dt, "weight": w_out_rec})
    nest.Connect(gen_rate_target, nrns_out, one_to_one,
                 {"synapse_model": "rate_connection_delayed", "delay": dt, "receptor_type": 2})
    if not floor:
        nest.Connect(nrns_in + nrns_rec, sr, all_to_all, static)
        nest.Connect(mm_rec, nrns_rec[:n_record], all_to_all, static)
    nest.Connect(mm_out, nrns_out, all_to_all, static)
    nest.GetConnections(nrns_rec[0], nrns_rec[1:3]).set([{"optimizer": {"m": 0.0, "v": 0.0}}] * 2)

    spike_bools = (np.random.rand(steps["sequence"], n_in) < 0.05).swapaxes(0, 1)
    spike_bools[:, 0] = 0
    starts = np.arange(0.0, duration["task"], duration["sequence"]) + duration["offset_gen"]
    grid = np.arange(0.0, duration["sequence"], dt)
    nest.SetStatus(gen_spk_in, [
        {"spike_times": np.hstack([grid[b] + s for s in starts]).astype(np.float32)} for b in spike_bools
    ])

    if task == "handwriting":
        x_eval = np.arange(steps["sequence"]) / steps["data_point"]
        x_data = np.arange(steps["sequence"] // steps["data_point"])
        targets = []
        for y in np.cumsum(data, axis=0).T:
            y /= np.max(np.abs(y))
            y -= np.mean(y)
            targets.append(np.interp(x_eval, x_data, y))
    else:
        targets = [np.sin(np.linspace(0.0, 2.0 * np.pi, steps["sequence"])),
                   np.sin(np.linspace(0.0, 4.0 * np.pi, steps["sequence"]))]
    nest.SetStatus(gen_rate_target, [
        {"amplitude_times": np.arange(0.0, duration["task"], dt) + duration["total_offset"],
         "amplitude_values": np.tile(t, n_iter * n_batch)} for t in targets
    ])

    gen_final = nest.Create("spike_generator", 1, {"spike_times": [duration["task"] + duration["delays"]]})
    nest.Connect(gen_final, nrns_in + nrns_rec, "all_to_all", {"weight": 1000.0})

    def weights(pre, post):
        c = nest.GetConnections(pre, post).get(["source", "target", "weight"])
        return {k: np.asarray(v) for k, v in c.items()}

    projections = {"in_rec": (nrns_in, nrns_rec), "rec_rec": (nrns_rec, nrns_rec), "rec_out": (nrns_rec, nrns_out)}
    initial = {name: weights(*pops) for name, pops in projections.items()}
    t_build = time.perf_counter()
    nest.Simulate(duration["sim"])
    t_sim = time.perf_counter()
    final = {name: weights(*pops) for name, pops in projections.items()}

    ev = mm_out.get("events")
    senders = ev["senders"]
    loss_list = []
    for sender in sorted(set(senders)):
        idc = senders == sender
        error = (ev["readout_signal"][idc] - ev["target_signal"][idc]) ** 2
        loss_list.append(0.5 * np.add.reduceat(error, np.arange(0, steps["task"], steps["sequence"])))
    loss = np.sum(loss_list, axis=0)

    arrays = {"loss": loss, "loss_per_output": np.array(loss_list), "t_build": t_build - t_start,
              "t_sim": t_sim - t_build, "t_total": time.perf_counter() - t_start}
    for stage, snap in (("initial", initial), ("final", final)):
        for name, conns in snap.items():
            for key, values in conns.items():
                arrays[f"{stage}/{name}/{key}"] = values
    if not floor:
        wr_ev, sr_ev = wr.get("events"), sr.get("events")
        for key in ("senders", "targets", "times", "weights"):
            arrays[f"wr/{key}"] = np.asarray(wr_ev[key])
        for key in ("senders", "times"):
            arrays[f"sr/{key}"] = np.asarray(sr_ev[key])
    for key in ("senders", "times", "readout_signal", "target_signal") + (() if floor else ("V_m",)):
        arrays[f"mm_out/{key}"] = np.asarray(ev[key])
    np.savez(out, **arrays)


def _options(argv: list[str]) -> dict[str, object]:
    """sparsity=IN,REC,OUT, n_rec=N and threads=T, in any order after the recording."""
    options = dict(arg.split("=", 1) for arg in argv)
    unknown = set(options) - {"sparsity", "n_rec", "threads"}
    if unknown:
        raise SystemExit(f"unknown option(s): {', '.join(sorted(unknown))}")
    return {key: value if key == "sparsity" else int(value) for key, value in options.items()}


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], *sys.argv[5:6], **_options(sys.argv[6:]))
