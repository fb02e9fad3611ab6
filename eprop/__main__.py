"""`python -m eprop ...` is the `eprop` command."""

from eprop.cli.main import _console_main

_console_main()
