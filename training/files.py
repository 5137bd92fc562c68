"""Atomic file writes: a reader sees the old file or the complete new one, never half of one."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path next to ``path``; it replaces ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # same suffix as the target: writers such as Keras pick the format from it
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.part-", suffix=path.suffix)
    os.close(fd)
    tmp = Path(tmp)
    tmp.chmod(0o644)  # mkstemp makes 0600 files; outputs are meant to be shared
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: str | os.PathLike, doc) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(doc, indent=1, sort_keys=False) + "\n")
    return Path(path)


def read_json(path: str | os.PathLike):
    return json.loads(Path(path).read_text())


def sha256(path: str | os.PathLike) -> str:
    """Hash of a file, or of every file in a directory (names and contents, in name order)."""
    path = Path(path)
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]:
        digest.update(file.name.encode())
        with open(file, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
