"""The results file: one self-describing HDF5 file per run, its writer and its reader.

This package is the only part of eprop that knows the layout and imports h5py; everything else
reads through `Results` methods. It imports nothing of the simulator, the training loop, the
analysis or the command line. Its modules:

- schema.py: the layout (`SCHEMA`, the "HDF5 schema" table of docs/results.md) and every dataset's units
- writer.py: `ResultsWriter`, which appends one iteration at a time and survives a kill
- files.py: finding the results file of a run directory or the files under a multirun directory
- base.py: opening a file for reading, and what every part of the reader shares
- iterations.py, history.py, events.py, connectivity.py: the parts of `Results` (loss and
  accuracy per iteration, a resumed run's parent chain and `to_pandas()`, recorder events,
  populations and weights)
- reader.py: `Results` and `open_results`

A file that cannot be read (or a writer's file that exists already) raises `ResultsError`
(eprop/errors.py), one line naming the path.
"""

from eprop.errors import ResultsError
from eprop.results.events import ReadoutSignals, Spikes
from eprop.results.files import RESULTS_FILE, find_result_files, natural_key, results_file_in
from eprop.results.history import MAX_PARENTS, LossHistory
from eprop.results.reader import Results, open_results
from eprop.results.schema import SCHEMA, SCHEMA_VERSION, schema_markdown, units_of
from eprop.results.writer import STARTING_SUFFIX, ResultsWriter

__all__ = [
    "MAX_PARENTS",
    "RESULTS_FILE",
    "SCHEMA",
    "SCHEMA_VERSION",
    "STARTING_SUFFIX",
    "LossHistory",
    "ReadoutSignals",
    "Results",
    "ResultsError",
    "ResultsWriter",
    "Spikes",
    "find_result_files",
    "natural_key",
    "open_results",
    "results_file_in",
    "schema_markdown",
    "units_of",
]
