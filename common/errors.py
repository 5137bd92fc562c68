"""The one error type for problems a user can act on: bad input files, configs, run folders, tools.

The CLI prints these as one line and exits with 1; anything else is a bug and keeps its traceback.
"""


class L1adError(Exception):
    """A problem with the user's input or environment; the message says which file or field, and what to do."""


class RunError(L1adError, ValueError):
    """A run folder in the wrong state for the requested action."""
