"""eprop's Hydra plugin: the optuna sweeper with failed jobs told to optuna as failed trials.

Hydra instantiates only plugins that live in the `hydra_plugins` namespace package, so the
class is here; the work is in eprop.sweep, and what it reaches of the plugin's private state is
in eprop.cli.hydra_internals. eprop's callback (eprop.sweep.SweepCallback)
points `hydra/sweeper=optuna` at this class; its parameters are the optuna sweeper's. Without
the [sweep] extra this module defines nothing.
"""

try:
    from hydra_plugins.hydra_optuna_sweeper.optuna_sweeper import OptunaSweeper as _PluginOptunaSweeper
except ImportError:  # hydra-optuna-sweeper is not installed
    _PluginOptunaSweeper = None

if _PluginOptunaSweeper is not None:

    class EpropOptunaSweeper(_PluginOptunaSweeper):
        """hydra-optuna-sweeper's sweeper; a job that returns NaN (eprop's failed job) is a failed trial."""

        def setup(self, *, hydra_context, task_function, config) -> None:
            from eprop.cli.hydra_internals import optuna_launcher, set_optuna_launcher
            from eprop.sweep import check_direction, failed_trial_launcher

            check_direction(config)  # before the study is made: a search in the wrong direction is one line
            super().setup(hydra_context=hydra_context, task_function=task_function, config=config)
            set_optuna_launcher(self, failed_trial_launcher(optuna_launcher(self)))

        def sweep(self, arguments):
            """The search; if it stops on failed trials, summary.csv is written all the same."""
            from eprop.cli.hydra_internals import optuna_config
            from eprop.sweep import TrialFailed, end_of_failed_search

            try:
                return super().sweep(arguments)
            except (TrialFailed, ValueError) as err:
                if isinstance(err, ValueError) and "No trials are completed yet" not in str(err):
                    raise
                end_of_failed_search(optuna_config(self), err)
            except RuntimeError as err:
                # The grid sampler stops the study after its last grid point; the plugin allows
                # that for a completed trial only, not when the last trial failed.
                if "Study.stop" not in str(err):
                    raise
                end_of_failed_search(
                    optuna_config(self),
                    TrialFailed(
                        "optuna: the grid sampler's last trial failed, which hydra-optuna-sweeper 1.3 cannot record; "
                        "no optimization_results.yaml was written, summary.csv lists every trial"
                    ),
                )
