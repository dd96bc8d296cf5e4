"""Model versions behind an atomic pointer: a better model swapped in while the suite serves.

A task's served model is a folder of versions and a pointer::

    var/models/<task>/
        versions/<id>/      a complete served folder (int8 export) and its version.json
        current.json        {"version": "<id>", "since": "..."}

A version is written under a staging name and renamed into ``versions/`` only when complete,
and never changed afterwards; the pointer is a small file replaced with ``os.replace``. A
reader therefore sees the old version or the new one, never half of either, and a process
killed at any moment leaves a pointer to a complete version (at worst a stale staging folder,
removed by the next ``prune``). Consumers hold a ``LiveModel``: it reads the pointer at most
once a second and loads a new version in a background thread while the old one answers, so a
swap neither fails a request nor makes one wait. No torch here: the onnxruntime servers use it.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Generic, Optional, TypeVar

from shared.atomic import write_text_atomically
from shared.errors import NlpSuiteError

logger = logging.getLogger(__name__)
POINTER = "current.json"
VERSIONS = "versions"
STAGING_STALE_S = 6 * 3600
"""A staging folder untouched this long belongs to a job that died (a full fine-tune takes minutes)."""
VERSION_FILE = "version.json"
T = TypeVar("T")


class VersionError(NlpSuiteError):
    """A versions folder or pointer that cannot be used as asked."""


def _now(timespec: str = "seconds") -> str:
    return datetime.now(timezone.utc).isoformat(timespec=timespec)


@dataclass
class VersionInfo:
    """What a version is and how good it was when it was made (``version.json``)."""

    recipe: str
    fingerprint: str = ""
    """The training arguments and data it came from: the same fingerprint is the same model."""
    validation: dict = field(default_factory=dict)
    """Figures of the served graph on the validation data: ``accuracy``, ``macro_f1``."""
    test: dict = field(default_factory=dict)
    train_seconds: float = 0.0
    threads: Optional[int] = None
    note: str = ""
    created: str = field(default_factory=lambda: _now("microseconds"))
    """When it was made (to the microsecond: versions sort by it)."""
    id: str = ""

    @property
    def score(self) -> float:
        """What decides between versions: validation macro-F1."""
        return float(self.validation.get("macro_f1", float("-inf")))


@dataclass
class Version:
    """A committed version: its id, folder and info."""

    id: str
    folder: Path
    info: VersionInfo


def read_pointer(root: Path) -> Optional[dict]:
    """The pointer of a versions folder ({"version", "since"}), or None when it has none."""
    try:
        return json.loads((Path(root) / POINTER).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise VersionError(f"{Path(root) / POINTER}: unreadable pointer ({exc})") from exc


def is_versioned(path: str | Path) -> bool:
    """Whether ``path`` is a versions folder (a pointer in it) rather than a plain model folder."""
    return (Path(path) / POINTER).is_file()


def served_folder(path: str | Path) -> Path:
    """The folder to load for ``path``: the current version of a versions folder, else ``path``."""
    path = Path(path)
    pointer = read_pointer(path) if is_versioned(path) else None
    return path / VERSIONS / pointer["version"] if pointer else path


class ModelVersions:
    """The versions of one task's served model (see the module docstring)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def current(self) -> Optional[Version]:
        """The version the pointer names, or None before the first one."""
        pointer = read_pointer(self.root)
        return self.get(pointer["version"]) if pointer else None

    def since(self) -> Optional[str]:
        """When the pointer last switched."""
        pointer = read_pointer(self.root)
        return pointer.get("since") if pointer else None

    def get(self, version_id: str) -> Version:
        folder = self.root / VERSIONS / version_id
        try:
            data = json.loads((folder / VERSION_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise VersionError(f"{folder}: not a complete version ({exc})") from exc
        known = {k: v for k, v in data.items() if k in VersionInfo.__dataclass_fields__}
        return Version(version_id, folder, VersionInfo(**known))

    def all(self) -> list[Version]:
        """Every committed version, oldest first."""
        folder = self.root / VERSIONS
        if not folder.is_dir():
            return []
        found = [self.get(p.name) for p in folder.iterdir()
                 if p.is_dir() and not p.name.startswith(".") and (p / VERSION_FILE).is_file()]
        return sorted(found, key=lambda v: (v.info.created, v.id))

    def find(self, fingerprint: str) -> Optional[Version]:
        """A committed version trained from the same arguments and data, if any."""
        return next((v for v in self.all() if v.info.fingerprint == fingerprint), None)

    def stage(self) -> Path:
        """A new empty folder to write a version into before ``commit``."""
        (self.root / VERSIONS).mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=".staging-", dir=self.root / VERSIONS))

    def commit(self, staged: Path, info: VersionInfo) -> Version:
        """Seal a staged folder as a version (its info written last, then one rename)."""
        info.id = info.id or f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{info.recipe}-{uuid.uuid4().hex[:6]}"
        write_text_atomically(Path(staged) / VERSION_FILE, json.dumps(asdict(info), indent=2) + "\n")
        target = self.root / VERSIONS / info.id
        os.rename(staged, target)
        return Version(info.id, target, info)

    def switch(self, version_id: str) -> None:
        """Point at a committed version, atomically."""
        self.get(version_id)  # refuses a version that is not complete
        write_text_atomically(self.root / POINTER, json.dumps({"version": version_id, "since": _now()}) + "\n")
        logger.info("%s now serves version %s", self.root, version_id)

    def switch_if_better(self, version: Version) -> bool:
        """Point at ``version`` when its validation score beats the current one's (or there is none)."""
        current = self.current()
        if current is not None and version.info.score <= current.info.score:
            logger.info("%s: version %s (validation macro-F1 %.4f) does not beat %s (%.4f); kept", self.root,
                        version.id, version.info.score, current.id, current.info.score)
            return False
        self.switch(version.id)
        return True

    def best(self) -> Optional[Version]:
        """The committed version with the highest validation score."""
        versions = self.all()
        return max(versions, key=lambda v: v.info.score) if versions else None

    def prune(self, keep: int = 3) -> list[str]:
        """Remove all but the newest ``keep`` versions (never the current) and staging folders
        untouched for ``STAGING_STALE_S`` (a training that is still writing one is left alone)."""
        current = read_pointer(self.root)
        keep_ids = {v.id for v in self.all()[-keep:]} | ({current["version"]} if current else set())
        removed = []
        stale = time.time() - STAGING_STALE_S
        for path in (self.root / VERSIONS).iterdir() if (self.root / VERSIONS).is_dir() else []:
            abandoned = path.name.startswith(".staging-") and path.stat().st_mtime < stale
            if abandoned or (path.is_dir() and not path.name.startswith(".staging-") and path.name not in keep_ids):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path.name)
        return removed


def _lowest_priority() -> None:
    """Give the calling thread the lowest CPU priority (Linux schedules threads by their own nice value)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (AttributeError, OSError):
        pass


class LiveModel(Generic[T]):
    """A loaded model that follows a versions folder's pointer without blocking its callers.

    ``get()`` returns the loaded object at once. At most every ``check_every_s`` it reads the
    pointer; when that names another version, a background thread loads it (``load(folder)``)
    and swaps it in when ready, while the old object keeps answering. A version that fails to
    load is logged and skipped. A plain model folder (no pointer) is loaded once and never changes.
    """

    def __init__(self, path: str | Path, load: Callable[[Path], T], *, check_every_s: float = 1.0):
        self.path = Path(path)
        self._load = load
        self.check_every_s = check_every_s
        pointer = read_pointer(self.path) if is_versioned(self.path) else None
        version = pointer["version"] if pointer else None
        self._current: tuple[Optional[str], T] = (version, load(served_folder(self.path)))
        self._next_check = time.monotonic() + check_every_s
        self._loading: Optional[str] = None
        self._failed: set[str] = set()
        self._lock = threading.Lock()
        self.swapped = threading.Event()
        """Set each time a new version is swapped in (tests and benchmarks wait on it)."""

    @property
    def version(self) -> Optional[str]:
        """The version being served (None for a plain folder)."""
        return self._current[0]

    def get(self) -> T:
        """The model to use now (see the class docstring)."""
        now = time.monotonic()
        if now >= self._next_check:
            self._next_check = now + self.check_every_s
            self._maybe_reload()
        return self._current[1]

    def check_now(self) -> None:
        """Read the pointer now instead of at the next check (a new version loads in the background)."""
        self._next_check = time.monotonic() + self.check_every_s
        self._maybe_reload()

    def _maybe_reload(self) -> None:
        try:
            pointer = read_pointer(self.path)
        except VersionError as exc:
            logger.warning("%s", exc)
            return
        wanted = pointer["version"] if pointer else None
        with self._lock:
            if wanted in (None, self._current[0], self._loading) or wanted in self._failed:
                return
            self._loading = wanted
        threading.Thread(target=self._reload, args=(wanted,), name=f"load-{wanted}", daemon=True).start()

    def _reload(self, version: str) -> None:
        _lowest_priority()  # the requests being served come first; a swap may take its time
        try:
            loaded = self._load(self.path / VERSIONS / version)
        except Exception:  # noqa: BLE001 (a broken version must not stop serving the old one)
            logger.exception("%s: version %s failed to load; still serving %s", self.path, version, self.version)
            with self._lock:
                self._failed.add(version)
                self._loading = None
            return
        with self._lock:
            self._current = (version, loaded)
            self._loading = None
        logger.info("%s: now serving version %s", self.path, version)
        self.swapped.set()
