"""The stage: where extracted batches wait as files before COPY. A local folder or S3.

Both expose the same small interface, so the stage IO manager, the loaders and the landing
sensor have one code path; only these two classes know where bytes actually go (S3Stage lives in
stage/s3_storage.py, imported only where the stage is on S3).
"""

import hashlib
import os
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote, unquote

import dagster as dg


@dataclass(frozen=True)
class StageObject:
    key: str
    size: int
    last_modified: datetime
    # The object's version: changes with any change of its bytes (S3's ETag; a content hash in
    # the local folder). None where the listing was not asked for versions (local: hashing
    # costs a read of every file).
    etag: str | None


class StagedObjectMissing(FileNotFoundError):
    """A key the caller expected in the stage is not there (deleted by hand or by a lifecycle
    rule after it was staged): the same error from both stages, so a load can say what to do."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"not in the stage: {key}")


class Stage(dg.ConfigurableResource, ABC):
    """Keys are '/'-separated paths relative to the stage root, e.g.
    'raw_data/session_timestamp/day=2026-11-01/part-00000.csv.gz'."""

    @abstractmethod
    def url_for(self, key: str) -> str: ...

    @abstractmethod
    def key_for(self, url: str) -> str: ...

    @abstractmethod
    def put_file(self, local_path: Path, key: str) -> None:
        """Move a finished local file into the stage (the local file is consumed)."""

    @abstractmethod
    def write_text(self, key: str, text: str) -> None: ...

    @abstractmethod
    def read_text(self, key: str) -> str: ...

    @abstractmethod
    @contextmanager
    def open_binary(self, key: str) -> Iterator[BinaryIO]: ...

    @abstractmethod
    def list_objects(self, prefix: str, *, versions: bool = False) -> list[StageObject]:
        """Every object under `prefix`, by key; with `versions`, each with its version (etag)."""

    @abstractmethod
    def delete(self, keys: list[str]) -> None: ...


# Files being written are invisible to readers: written under a unique hidden name beside the
# target, then renamed over it (atomic on one filesystem), so concurrent writers of one key never
# share a temporary file and a reader sees the old or the new file, never half of one.
_WRITING_SUFFIX = ".writing"


def _is_being_written(path: Path) -> bool:
    return path.name.endswith(_WRITING_SUFFIX)


def _writing_path_beside(target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=_WRITING_SUFFIX)
    os.close(handle)
    return Path(name)


# (path, inode, size, mtime, ctime) -> MD5 of the bytes. ctime is in the signature because no
# copy tool can set it: a file rewritten with its old size and modification time kept (`rsync -a`,
# `cp -p`, a restore) still gets a new ctime, so it is hashed again and its version changes
# exactly when its bytes do, as an S3 ETag's would. Per process (the sensor's code server keeps
# it between ticks).
_content_versions: dict[tuple, str] = {}


def content_version(path: Path) -> str:
    """The file's version: the MD5 of its bytes (what S3 gives a single-part upload as its ETag),
    read once per change of the file."""
    stat = path.stat()
    signature = (str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
    if (known := _content_versions.get(signature)) is not None:
        return known
    digest = hashlib.md5(usedforsecurity=False)
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    except OSError:
        # A file the worker cannot read is still landed: listed, with a version from its stat
        # (not kept: it is hashed once it can be read), so its day is staged and the file is
        # one reject there (logs/landed_lines.py) instead of the listing failing for every file.
        return f"unreadable-{stat.st_size}-{stat.st_mtime_ns}"
    _content_versions[signature] = version = digest.hexdigest()
    return version


def _file_url(path: Path) -> str:
    # Like Path.as_uri(), but "day=2026-11-05" stays readable in manifests, logs and errors.
    return "file://" + quote(path.as_posix(), safe="/=")


class LocalFolderStage(Stage):
    """A folder on this machine; the embedded default."""

    root: str

    def _path(self, key: str) -> Path:
        path = (Path(self.root) / key).resolve()
        if not path.is_relative_to(Path(self.root).resolve()):
            raise ValueError(f"stage key escapes the stage root: {key!r}")
        return path

    def url_for(self, key: str) -> str:
        return _file_url(self._path(key))

    def key_for(self, url: str) -> str:
        root = _file_url(Path(self.root).resolve()).rstrip("/") + "/"
        if not url.startswith(root):
            raise ValueError(f"{url} is not in the stage {root}")
        return unquote(url[len(root) :])

    def put_file(self, local_path: Path, key: str) -> None:
        target = self._path(key)
        writing = _writing_path_beside(target)
        try:
            shutil.move(local_path, writing)  # a copy when the scratch folder is on another filesystem
            os.replace(writing, target)
        except BaseException:
            writing.unlink(missing_ok=True)
            raise

    def write_text(self, key: str, text: str) -> None:
        target = self._path(key)
        writing = _writing_path_beside(target)
        try:
            writing.write_text(text, encoding="utf-8")
            os.replace(writing, target)
        except BaseException:
            writing.unlink(missing_ok=True)
            raise

    def read_text(self, key: str) -> str:
        return self._path(key).read_text(encoding="utf-8")

    @contextmanager
    def open_binary(self, key: str) -> Iterator[BinaryIO]:
        try:
            f = open(self._path(key), "rb")
        except FileNotFoundError:
            raise StagedObjectMissing(key) from None
        with f:
            yield f

    def list_objects(self, prefix: str, *, versions: bool = False) -> list[StageObject]:
        base = self._path(prefix) if prefix else Path(self.root).resolve()
        if not base.exists():
            return []
        root = Path(self.root).resolve()
        objects = []
        for path in sorted(p for p in base.rglob("*") if p.is_file() and not _is_being_written(p)):
            stat = path.stat()
            objects.append(
                StageObject(
                    key=path.relative_to(root).as_posix(),
                    size=stat.st_size,
                    last_modified=datetime.fromtimestamp(stat.st_mtime, tz=timezone.utc),
                    etag=content_version(path) if versions else None,
                )
            )
        return objects

    def delete(self, keys: list[str]) -> None:
        root = Path(self.root).resolve()
        for key in keys:
            path = self._path(key)
            path.unlink(missing_ok=True)
            # Folders exist only for their files (as prefixes on S3): drop the ones left empty.
            for folder in path.parents:
                if folder == root or not folder.is_relative_to(root):
                    break
                try:
                    folder.rmdir()
                except OSError:  # not empty (or already gone)
                    break
