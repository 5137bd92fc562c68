"""Worker processes that end with the process that started them."""

import ctypes
import signal
import sys

_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def end_with_parent() -> None:
    """In a pool worker: ask Linux to end this process when its parent ends, so that a parent killed by a signal
    leaves no worker computing for nobody (a killed `l1ad generate` left its two Pythia workers running). A no-op
    elsewhere."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        except (OSError, AttributeError):
            pass
