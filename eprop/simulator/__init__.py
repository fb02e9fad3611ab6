"""Everything that talks to NEST. The only package that imports `nest`, and only lazily.

It receives a plain NetworkDescription (description.py; eprop/training/translate.py makes it
from the config) besides the timing, the weights and the task's signals, and imports nothing
of the config schema, OmegaConf or Hydra. The functions below form the `Simulator` interface
the training loop calls (protocol.py); tests/support/fake_simulator.py implements it without NEST.

Its modules:

    description.py    the plain values it receives (kernel, populations, readout, synapses, recording)
    protocol.py       the Simulator interface, without NEST
    kernel.py         the nest module (lazy import), kernel reset, versions, model defaults, errors
    parameters.py     neuron and synapse parameters, checked against NEST's names
    network.py        handles to the NEST objects of a built network
    build.py          create the populations, recorders and generators, connect them
    recording.py      the recorders and their events
    stepping.py       generators' signals, Simulate, learning rate, pending updates
    synapse_state.py  final weights and optimizer state, read and set

The network is the seeds' architecture (connections numbered as in the tutorials):

    1  spike_generator -> parrot_neuron          static, one to one
    2  parrot (input)  -> recurrent              e-prop synapse, all to all
    3  recurrent       -> recurrent              e-prop synapse, all to all, no autapses
    4  recurrent       -> readout                e-prop synapse, all to all
    5  readout         -> recurrent              learning-signal connection (feedback), all to all

    2-5 with a mask (`weights.<projection>.sparsity`, see weights.py): one to one on the pairs
    the mask keeps, target-major (numpy's nonzero order), in one Connect of node-id arrays
    per synapse model (the weight-recorder block's first, as in the dense case)
    6  step_rate_generator -> readout            rate connection on receptor 2 (target signal)
    7  step_rate_generator -> readout            rate connection on the eprop_learning_window
                                                 receptor (event-based family only): 1 from the
                                                 first loss step on, or the task's window per
                                                 step (IterationSignals.learning_window, nmnist)

    8  readout -> readout                        rate connection on the readout_signal receptor,
                                                 all to all, no autapses, weight 1 (only with
                                                 neuron.readout.loss=cross_entropy: the softmax)

plus the final-update spike generator that makes every e-prop synapse apply its last update.

The model family (`model.family`, translated into the description's model names) chooses the
readout, synapse and feedback-connection models. The bsshslm_2020 family learns per update interval (one sequence)
and takes the kernel's eprop_* timing; the event-based family (eprop) learns at every spike
and ignores those kernel settings, so they are left at NEST's defaults for it.

Two departures from the tutorial scripts change no number:

- The generators are loaded one iteration ahead instead of all at once, so their memory does
  not grow with n_iter, and the simulation runs one `nest.Simulate` per iteration.
- The weight recorder hangs on a copy of the e-prop synapse model that only the recorded
  sender x target block uses; the other synapses skip the recorder check on every spike.
"""

from eprop.simulator.build import build_network
from eprop.simulator.description import NetworkDescription
from eprop.simulator.kernel import min_delay_steps, model_defaults, nest, nest_info, num_virtual_procs, reset_kernel
from eprop.simulator.network import Network
from eprop.simulator.recording import read_and_clear
from eprop.simulator.stepping import apply_pending_updates, load_generators, set_learning_rate, simulate_until
from eprop.simulator.synapse_state import read_weights, set_optimizer_state

__all__ = [
    "Network",
    "NetworkDescription",
    "apply_pending_updates",
    "build_network",
    "load_generators",
    "min_delay_steps",
    "model_defaults",
    "nest",
    "nest_info",
    "num_virtual_procs",
    "read_and_clear",
    "read_weights",
    "reset_kernel",
    "set_learning_rate",
    "set_optimizer_state",
    "simulate_until",
]
