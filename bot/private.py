"""Files that hold customer data (the database, reports): readable by their owner only, whatever the umask.

Posts, names and cases are personal data; a 0644 file is readable by every local user. Files are created 0600 and
the folders mentionbot creates 0700; an existing folder (the project's, a home directory) is left as it is.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

FILE_MODE = 0o600
FOLDER_MODE = 0o700


def private_folder(path: Path) -> Path:
    """``path`` as a folder, it and any missing parents created 0700."""
    missing = []
    folder = Path(path)
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        folder.mkdir(mode=FOLDER_MODE, exist_ok=True)
        os.chmod(folder, FOLDER_MODE)  # mkdir's mode is narrowed by the umask, never widened to what we ask
    return Path(path)


def private_file(path: Path) -> Path:
    """``path`` created empty and 0600 if missing; an existing one readable by every user (as older versions
    left the database) made 0600, one shared with a group on purpose (0640) left as it is."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
        os.chmod(path, FILE_MODE)
    except FileExistsError:
        tighten(path)
    return path


def tighten(path: Path) -> None:
    """Make ``path`` 0600 if every local user may read it (a file of another owner is left alone)."""
    mode = os.stat(path).st_mode
    if mode & 0o007:
        with contextlib.suppress(PermissionError):
            os.chmod(path, FILE_MODE)


def write_private(path: Path, data: bytes | str) -> Path:
    """Write ``data`` to ``path`` (0600), replacing the file atomically."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode() if isinstance(data, str) else data)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    return path
