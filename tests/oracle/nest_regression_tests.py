"""Test oracle: the setups of NEST 3.10's e-prop regression tests, at any resolution.

Event-based models (NEURON_MODEL = eprop_iaf, eprop_iaf_adapt, eprop_iaf_psc_delta,
eprop_iaf_psc_delta_adapt): see below. NEURON_MODEL = eprop_iaf_bsshslm_2020 (OPTIMIZER must be
gradient_descent) restates test_eprop_bsshslm_2020_plasticity.py::test_eprop_regression instead:
100 LIF neurons, 1000-step sequences, c_reg = 300 (a constant there), eta = 1e-4, the kernel's
eprop_learning_window and eprop_update_interval = one sequence in ms, step 0 of the input cleared.

Our own restatement, as a plain NEST script, of the network that
nest/share/nest/testsuite/pytests/synapses/test_eprop_plasticity.py::test_eprop_regression
builds (facts read from that file: 100 input, 100 recurrent neurons, one eprop_readout,
100-step sequences, 5 iterations, np.random.seed(1) draws, the (1 - kappa) weight scalings,
eta = 1e-4 (1 - kappa)^2, optimize_each_step). The one free parameter the test fixes is the
time step: the test keeps every duration in steps and derives the millisecond values from
the step, so here the step is an argument. Values that the test derives from durations
follow the step exactly as the test does:

- c_reg = 300 / sequence duration (ms), or 2 / sequence duration (ms) / (1 - kappa)^2 for the
  psc_delta models;
- flush_event_send_interval = sequence duration (ms);
- every delay, the recorders' windows and the generators' times = steps x step (ms).

Everything else (tau_m, kappa, adapt_beta, eprop_isi_trace_cutoff, eta, ...) is a constant.

    python nest_regression_tests.py NEURON_MODEL OPTIMIZER STEP_MS N_ITER OUT.json

writes {"loss": [...]}: per iteration 0.5 * sum_t (y - y*)^2 of the one readout.
"""

import json
import os
import sys

os.environ.setdefault("PYNEST_QUIET", "1")

import nest  # noqa: E402
import numpy as np  # noqa: E402


def superimposed_sines(n_steps: int, periods: list[int]) -> np.ndarray:
    amplitudes = np.random.uniform(low=0.5, high=2.0, size=len(periods))
    phases = np.random.uniform(low=0.0, high=2.0 * np.pi, size=len(periods))
    total = sum(a * np.sin(np.linspace(p, p + 2.0 * np.pi * (n_steps // t), n_steps)) for a, p, t in zip(amplitudes, phases, periods))
    total = total - total[0]
    return total / max(np.abs(total).max(), 1e-6)


def main(neuron_model: str, optimizer: str, step_ms: float, n_iter: int, out: str) -> None:
    np.random.seed(1)
    seq_steps = 100
    task_steps = n_iter * seq_steps
    offset_gen, delay_in_rec, extension_sim = 1, 1, 3
    total_offset = offset_gen + delay_in_rec
    sim_steps = task_steps + total_offset + extension_sim
    ms = lambda steps: steps * step_ms  # noqa: E731
    seq_ms = ms(seq_steps)

    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.WARNING
    nest.set(print_time=False, resolution=step_ms, total_num_virtual_procs=1)

    n_in, n_rec, n_out = 100, 100, 1
    kappa = 0.97
    one_minus_kappa = 1.0 - kappa
    rec = {
        "C_m": 1.0, "c_reg": 300.0 / seq_ms, "E_L": 0.0, "eprop_isi_trace_cutoff": 100, "f_target": 10.0,
        "flush_event_send_interval": seq_ms, "I_e": 0.0, "kappa": kappa, "kappa_reg": kappa,
        "surrogate_gradient_function": "piecewise_linear", "surrogate_gradient_height": 10.0,
        "surrogate_gradient_width": 0.03, "t_ref": 0.0, "tau_m": 30.0, "V_m": 0.0, "V_th": 0.03,
    }
    psc_delta = neuron_model in ("eprop_iaf_psc_delta", "eprop_iaf_psc_delta_adapt")
    if psc_delta:
        rec.update(V_reset=-0.5, V_th=0.5, c_reg=2.0 / seq_ms / one_minus_kappa**2)
    elif neuron_model == "eprop_iaf_adapt":
        rec.update(adapt_beta=0.0174, adapt_tau=2000.0, adaptation=0.0)
    out_params = {"C_m": 1.0, "E_L": 0.0, "eprop_isi_trace_cutoff": 100, "I_e": 0.0, "tau_m": 30.0, "V_m": 0.0}

    gen_in = nest.Create("spike_generator", n_in)
    parrots = nest.Create("parrot_neuron", n_in)
    nrns_rec = nest.Create(neuron_model, n_rec, rec)
    nrns_out = nest.Create("eprop_readout", n_out, out_params)
    gen_target = nest.Create("step_rate_generator", n_out)
    gen_window = nest.Create("step_rate_generator")
    mm_out = nest.Create("multimeter", {"interval": step_ms, "record_from": ["readout_signal", "target_signal"],
                                        "start": ms(total_offset), "stop": ms(total_offset + task_steps)})

    f32 = np.float32
    w_in = np.array(np.random.randn(n_in, n_rec).T / np.sqrt(n_in), dtype=f32)
    w_rec = np.array(np.random.randn(n_rec, n_rec).T / np.sqrt(n_rec), dtype=f32)
    np.fill_diagonal(w_rec, 0.0)
    w_out = np.array(np.random.randn(n_rec, n_out).T / np.sqrt(n_rec), dtype=f32) * one_minus_kappa
    w_fb = np.array(np.random.randn(n_rec, n_out) / np.sqrt(n_rec), dtype=f32)
    if psc_delta:
        w_fb /= one_minus_kappa
    else:
        w_in *= one_minus_kappa
        w_rec *= one_minus_kappa
        w_fb *= one_minus_kappa

    opt = {"type": optimizer, "batch_size": 1, "eta": 1e-4 * one_minus_kappa**2, "optimize_each_step": True,
           "Wmin": -100.0, "Wmax": 100.0}
    if optimizer == "adam":
        opt.update(beta_1=0.9, beta_2=0.999, epsilon=1e-7)
    nest.SetDefaults("eprop_synapse", {"optimizer": opt})

    delay = {"delay": step_ms}
    no_autapses = {"rule": "all_to_all", "allow_autapses": False}
    nest.Connect(gen_in, parrots, {"rule": "one_to_one"}, {"synapse_model": "static_synapse", **delay})
    nest.Connect(parrots, nrns_rec, no_autapses, {"synapse_model": "eprop_synapse", **delay, "weight": w_in})
    nest.Connect(nrns_rec, nrns_rec, no_autapses, {"synapse_model": "eprop_synapse", **delay, "weight": w_rec})
    nest.Connect(nrns_rec, nrns_out, no_autapses, {"synapse_model": "eprop_synapse", **delay, "weight": w_out})
    nest.Connect(nrns_out, nrns_rec, no_autapses, {"synapse_model": "eprop_learning_signal_connection", **delay, "weight": w_fb})
    nest.Connect(gen_target, nrns_out, {"rule": "one_to_one"},
                 {"synapse_model": "rate_connection_delayed", **delay, "receptor_type": 2})
    nest.Connect(gen_window, nrns_out, "all_to_all", {"synapse_model": "rate_connection_delayed", **delay, "receptor_type": 1})
    nest.Connect(mm_out, nrns_out, "all_to_all", {"synapse_model": "static_synapse", **delay})

    spikes = (np.random.rand(seq_steps, n_in) < 0.05).swapaxes(0, 1)
    starts = np.arange(0.0, ms(task_steps), seq_ms) + ms(offset_gen)
    grid = np.arange(0.0, seq_ms, step_ms)
    gen_in.set([{"spike_times": np.hstack([grid[row] + s for s in starts]).astype(f32)} for row in spikes])

    target = superimposed_sines(seq_steps, [1000, 500, 333, 200])
    gen_target.set({"amplitude_times": np.arange(0.0, ms(task_steps), step_ms) + ms(total_offset),
                    "amplitude_values": np.tile(target, n_iter)})
    gen_window.set({"amplitude_times": [ms(total_offset)], "amplitude_values": [1.0]})

    nest.Simulate(ms(sim_steps))

    ev = mm_out.get("events")
    y = np.asarray(ev["readout_signal"]).reshape(n_iter, seq_steps)
    y_star = np.asarray(ev["target_signal"]).reshape(n_iter, seq_steps)
    loss = 0.5 * np.sum((y - y_star) ** 2, axis=1)
    with open(out, "w") as f:
        json.dump({"loss": loss.tolist()}, f)


def bsshslm_main(step_ms: float, n_iter: int, out: str) -> None:
    np.random.seed(1)
    seq_steps = 1000
    task_steps = n_iter * seq_steps
    offset_gen, delays, extension_sim = 1, 3, 1  # delays: in->rec, rec->out, out normalization
    total_offset = offset_gen + delays
    sim_steps = task_steps + total_offset + extension_sim
    ms = lambda steps: steps * step_ms  # noqa: E731
    seq_ms = ms(seq_steps)

    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.WARNING
    nest.set(eprop_learning_window=seq_ms, eprop_reset_neurons_on_update=True, eprop_update_interval=seq_ms,
             print_time=False, resolution=step_ms, total_num_virtual_procs=1)

    n_in, n_rec, n_out = 100, 100, 1
    v_th = 0.03
    rec = {"C_m": 1.0, "c_reg": 300.0, "E_L": 0.0, "f_target": 10.0, "flush_event_send_interval": seq_ms, "I_e": 0.0,
           "regular_spike_arrival": False, "surrogate_gradient_function": "piecewise_linear",
           "surrogate_gradient_height": 0.3 / v_th, "surrogate_gradient_width": 1.0 * abs(v_th), "t_ref": 0.0,
           "tau_m": 30.0, "V_m": 0.0, "V_th": v_th}
    out_params = {"C_m": 1.0, "E_L": 0.0, "I_e": 0.0, "loss": "mean_squared_error", "regular_spike_arrival": False,
                  "tau_m": 30.0, "V_m": 0.0}
    gen_in = nest.Create("spike_generator", n_in)
    parrots = nest.Create("parrot_neuron", n_in)
    nrns_rec = nest.Create("eprop_iaf_bsshslm_2020", n_rec, rec)
    nrns_out = nest.Create("eprop_readout_bsshslm_2020", n_out, out_params)
    gen_target = nest.Create("step_rate_generator", n_out)
    mm_out = nest.Create("multimeter", {"interval": step_ms, "record_from": ["readout_signal", "target_signal"],
                                        "start": ms(total_offset), "stop": ms(total_offset + task_steps)})

    f32 = np.float32
    w_in = np.array(np.random.randn(n_in, n_rec).T / np.sqrt(n_in), dtype=f32)
    w_rec = np.array(np.random.randn(n_rec, n_rec).T / np.sqrt(n_rec), dtype=f32)
    np.fill_diagonal(w_rec, 0.0)
    w_out = np.array(np.random.randn(n_rec, n_out).T / np.sqrt(n_rec), dtype=f32)
    w_fb = np.array(np.random.randn(n_rec, n_out) / np.sqrt(n_rec), dtype=f32)
    nest.SetDefaults("eprop_synapse_bsshslm_2020", {
        "optimizer": {"type": "gradient_descent", "batch_size": 1, "eta": 1e-4, "Wmin": -100.0, "Wmax": 100.0},
        "average_gradient": False})
    plastic = {"synapse_model": "eprop_synapse_bsshslm_2020", "delay": step_ms, "tau_m_readout": 30.0}
    no_autapses = {"rule": "all_to_all", "allow_autapses": False}
    static = {"synapse_model": "static_synapse", "delay": step_ms}
    nest.Connect(gen_in, parrots, {"rule": "one_to_one"}, static)
    nest.Connect(parrots, nrns_rec, no_autapses, {**plastic, "weight": w_in})
    nest.Connect(nrns_rec, nrns_rec, no_autapses, {**plastic, "weight": w_rec})
    nest.Connect(nrns_rec, nrns_out, no_autapses, {**plastic, "weight": w_out})
    nest.Connect(nrns_out, nrns_rec, no_autapses,
                 {"synapse_model": "eprop_learning_signal_connection_bsshslm_2020", "delay": step_ms, "weight": w_fb})
    nest.Connect(gen_target, nrns_out, {"rule": "one_to_one"},
                 {"synapse_model": "rate_connection_delayed", "delay": step_ms, "receptor_type": 2})
    nest.Connect(mm_out, nrns_out, "all_to_all", static)

    spikes = (np.random.rand(seq_steps, n_in) < 0.05).swapaxes(0, 1)
    spikes[:, 0] = False
    starts = np.arange(0.0, ms(task_steps), seq_ms) + ms(offset_gen)
    grid = np.arange(0.0, seq_ms, step_ms)
    gen_in.set([{"spike_times": np.hstack([grid[row] + s for s in starts]).astype(f32)} for row in spikes])
    target = superimposed_sines(seq_steps, [1000, 500, 333, 200])
    gen_target.set({"amplitude_times": np.arange(0.0, ms(task_steps), step_ms) + ms(total_offset),
                    "amplitude_values": np.tile(target, n_iter)})

    nest.Simulate(ms(sim_steps))

    ev = mm_out.get("events")
    y = np.asarray(ev["readout_signal"]).reshape(n_iter, seq_steps)
    y_star = np.asarray(ev["target_signal"]).reshape(n_iter, seq_steps)
    with open(out, "w") as f:
        json.dump({"loss": (0.5 * np.sum((y - y_star) ** 2, axis=1)).tolist()}, f)


if __name__ == "__main__":
    if sys.argv[1] == "eprop_iaf_bsshslm_2020":
        assert sys.argv[2] == "gradient_descent", "NEST's bsshslm_2020 regression test uses gradient descent"
        bsshslm_main(float(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    else:
        main(sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
