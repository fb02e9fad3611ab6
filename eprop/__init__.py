"""eprop: a command-line experiment runner for e-prop learning in NEST."""

__version__ = "0.1.0"
