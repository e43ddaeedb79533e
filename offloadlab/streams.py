"""Output streams: solver libraries print to the process's stdout from C code, which
must not mix with the command line's output (``--json`` prints one document)."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager


@contextmanager
def stdout_to_stderr():
    """Send what is written to file descriptor 1 to descriptor 2 meanwhile (banners and
    logs of C libraries such as HiGHS); a no-op where stdout has no descriptor."""
    try:
        fd, err = sys.__stdout__.fileno(), sys.__stderr__.fileno()
    except (AttributeError, OSError, ValueError):
        yield
        return
    sys.__stdout__.flush()
    saved = os.dup(fd)
    os.dup2(err, fd)
    try:
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
