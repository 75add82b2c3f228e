"""Files written whole or not at all: the one atomic writer every part of tapegrad uses."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def write_atomic(path, data: bytes | str) -> None:
    """Write ``data`` (bytes, or text as UTF-8) to ``path`` so no one ever sees half of it.

    The data goes to a new file beside ``path`` (same folder, so the same file
    system), is flushed to disk, then renamed over ``path``: readers see the
    old file or the new one.  On any error, Ctrl-C included, the temporary file
    is removed and ``path`` is untouched.  The new file gets the usual
    permissions (the umask applies, as for any new file).
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
