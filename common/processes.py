"""Worker processes that end with the process that started them, and library chatter that is not for users."""

import ctypes
import logging
import signal
import sys

_PR_SET_PDEATHSIG = 1  # linux/prctl.h

# ray.init's options for l1ad: workers' output stays in their logs, and Ray's start-up notices (token
# authentication, "Started a local Ray instance") are not the user's to act on
RAY_QUIET = {"log_to_driver": False, "logging_level": logging.ERROR}


def end_with_parent() -> None:
    """In a pool worker: ask Linux to end this process when its parent ends, so that a parent killed by a signal
    leaves no worker computing for nobody (a killed `l1ad generate` left its two Pythia workers running). A no-op
    elsewhere."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        except (OSError, AttributeError):
            pass


def quiet_libraries() -> None:
    """TensorFlow's start-up chatter and Keras' expected warnings are not for users: set by the command line, and
    in its worker processes (which do not inherit warning filters)."""
    import os
    import warnings

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    # h5 is what hls4ml reads; QKeras quantizers are not Keras constraints; rebuilt layers get saved weights
    warnings.filterwarnings("ignore", message=".*HDF5 file via `model.save\\(\\)`.*")
    warnings.filterwarnings("ignore", message=".*keras.constraints.serialize.*")
    warnings.filterwarnings("ignore", message="The initializer .* is unseeded")
