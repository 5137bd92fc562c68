"""Atomic file writes (a reader sees the old file or the complete new one, never half of one), output folders
l1ad may replace, and the state of a run folder."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

from .errors import L1adError


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
    """Hash of a file's content (as sha256sum prints it), or of every file in a directory (names and contents)."""
    path = Path(path)
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]:
        if path.is_dir():
            digest.update(file.relative_to(path).as_posix().encode())
        with open(file, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


# --- folders l1ad makes ------------------------------------------------------------------------------
# Every output folder l1ad creates (HLS projects, RTL builds, scans) holds this marker; l1ad replaces or
# deletes a folder only when it finds the marker, so `--out` can never remove a user's own files.
MARKER = ".l1ad-output"


def is_ours(path: str | os.PathLike) -> bool:
    return (Path(path) / MARKER).is_file()


def check_replaceable(path: str | os.PathLike, what: str) -> None:
    """Raise unless ``path`` is absent, an empty folder, or a folder l1ad made."""
    path = Path(path)
    if not path.exists():
        return
    if not path.is_dir():
        raise L1adError(f"{path} is a file, not a folder; choose another output folder for the {what}")
    if any(path.iterdir()) and not is_ours(path):
        raise L1adError(f"{path} exists and was not made by l1ad (no {MARKER} marker); l1ad will not replace it. "
                        f"Choose another output folder for the {what}, or move the folder away yourself")


def staging_dir(target: str | os.PathLike) -> Path:
    """An empty folder beside ``target`` to build into; :func:`commit_dir` swaps it in."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{target.name}.part-", dir=target.parent))


def commit_dir(staging: Path, target: str | os.PathLike, what: str, info: dict | None = None) -> Path:
    """Mark ``staging`` as l1ad's and put it in place of ``target`` (which must be replaceable)."""
    import shutil

    target = Path(target)
    check_replaceable(target, what)
    write_json(staging / MARKER, {"what": what, **(info or {})})
    if target.exists():
        shutil.rmtree(target)
    os.replace(staging, target)
    return target


# --- run folders -----------------------------------------------------------------------------------------
def run_state(run: str | os.PathLike) -> str | None:
    """The state a run folder's status.json records (``training``, ``complete``), or None if it has none."""
    status = Path(run) / "status.json"
    return read_json(status)["state"] if status.exists() else None
