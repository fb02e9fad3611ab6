"""The config's closed choices (Enums): a value outside them fails at composition with
"must be one of ...". StrEnum members compare, hash and format as their string value, and each
member's name is its value, as NEST spells it.
"""

from __future__ import annotations

from enum import StrEnum

from eprop.tasks import TASKS

# The task names come from the task registry (tasks/__init__.py), the one place that lists them;
# task_schemas() types every task schema's `target` with it.
Target = StrEnum("Target", {name: name for name in TASKS})


class SurrogateGradient(StrEnum):  # NEST 3.10's surrogate_gradient_function values
    piecewise_linear = "piecewise_linear"
    exponential = "exponential"
    fast_sigmoid_derivative = "fast_sigmoid_derivative"
    arctan_derivative = "arctan_derivative"


class ReadoutLoss(StrEnum):
    mean_squared_error = "mean_squared_error"
    cross_entropy = "cross_entropy"


class OptimizerType(StrEnum):
    adam = "adam"
    gradient_descent = "gradient_descent"


class Family(StrEnum):
    bsshslm_2020 = "bsshslm_2020"
    eprop = "eprop"


class RecurrentVariable(StrEnum):  # recordable by some recurrent e-prop model
    V_m = "V_m"
    surrogate_gradient = "surrogate_gradient"
    learning_signal = "learning_signal"
    V_th_adapt = "V_th_adapt"
    adaptation = "adaptation"
    eprop_history_duration = "eprop_history_duration"


class ReadoutVariable(StrEnum):  # recordable by some e-prop readout model
    V_m = "V_m"
    readout_signal = "readout_signal"
    readout_signal_unnorm = "readout_signal_unnorm"
    target_signal = "target_signal"
    error_signal = "error_signal"
    eprop_history_duration = "eprop_history_duration"


class WeightInit(StrEnum):
    normal_fan_in = "normal_fan_in"  # N(0, 1) / sqrt(n_source)
    normal = "normal"  # N(0, 1)
    glorot_uniform = "glorot_uniform"  # U(+-sqrt(3 / max(1, (n_source + n_target) / 2)))
