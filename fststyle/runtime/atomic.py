"""Atomic file writes: write to a temporary file beside the target, then rename.

A crash or a failed check never leaves a half-written model, image or export behind.
"""

import contextlib
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path in the target's folder; rename it onto `path` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        umask = os.umask(0)
        os.umask(umask)
        # mkstemp makes 0600 files (and some writers recreate the file): usual permissions.
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)  # atomic on POSIX and Windows within one file system
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
