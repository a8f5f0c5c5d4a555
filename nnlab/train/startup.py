"""TensorFlow loaded without its start-up chatter, so that a normal CPU run shows no error-looking line.

TensorFlow's native libraries print lines such as "oneDNN custom operations are on" and "Could not find cuda
drivers" while `import tensorflow` runs, before absl logging is initialised, so no log level reaches them; and on
a machine without an NVIDIA driver, listing devices logs `E0000 ... failed call to cuInit`, which a newcomer reads
as a failure. The import runs with the process's stderr captured, and lines that are not known chatter are
written back; TF_CPP_MIN_LOG_LEVEL=3 (errors hidden) only where no NVIDIA driver exists, so that a machine with a
GPU still shows why TensorFlow could not use it.
"""

import logging
import os
import re
import sys
import tempfile

CHATTER = re.compile(
    r"All log messages before absl::InitializeLog|oneDNN custom operations are on|Could not find cuda drivers"
    r"|Unable to register cu(DNN|FFT|BLAS) factory|computation placer already registered"
    r"|TensorFlow binary is optimized to use available CPU instructions|rebuild TensorFlow with the appropriate"
)


def quiet_environment():
    """Set TensorFlow's log levels in the environment (before it loads); values the user set are kept."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2" if has_nvidia_driver() else "3")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")


def has_nvidia_driver():
    return os.path.exists("/proc/driver/nvidia") or os.path.exists("/dev/nvidiactl")


def import_tensorflow():
    """Import TensorFlow (and Keras) with the native libraries' start-up lines filtered out of stderr."""
    if "tensorflow" in sys.modules:
        return
    quiet_environment()
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import keras  # noqa: F401
            import tensorflow  # noqa: F401
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode("utf-8", "replace")
    kept = [line for line in text.splitlines() if line.strip() and not CHATTER.search(line)]
    if kept:
        print("\n".join(kept), file=sys.stderr)


class OwnRetracing(logging.Filter):
    """Drops TensorFlow's "N out of the last M calls to <...> triggered tf.function retracing" warning when the
    function is nnlab's own: a sweep compiles a fresh loop for each trial's model on purpose, and the warning's
    advice (define the tf.function outside the loop) is about nnlab's code, not the user's. The same warning about
    a function of the experiment module still shows."""

    def filter(self, record):
        message = record.getMessage()
        return not ("triggered tf.function retracing" in message and " of <nnlab." in message)


def hide_own_retracing_warnings():
    """Install OwnRetracing on TensorFlow's logger, once per process."""
    logger = logging.getLogger("tensorflow")
    if not any(isinstance(existing, OwnRetracing) for existing in logger.filters):
        logger.addFilter(OwnRetracing())
