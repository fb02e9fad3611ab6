"""The one exception type for mistakes a user can fix.

A `UserError` is printed as a single line on stderr and ends the process with exit code 2
(usage errors) or `exit_code`. Anything else that escapes is a bug and keeps its traceback.
"""


class UserError(Exception):
    """A mistake in the user's input: a config value, a file, a path."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code
