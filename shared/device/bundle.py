"""The bundle: a plain folder that holds everything a device needs, checked before it is used.

    manifest.json        format version, package versions, labels, the metrics it was packed
                         with, and the sha256 and size of every packed file
    encoder_int8.onnx    the int8 encoder graph; its output is the pooled sentence features
    tokenizer.json       the fast tokenizer (the ``tokenizers`` library)
    spelling.json        the words a message's unknown words are corrected to (when used)
    memory.npz           a compact memory of the training set: int8 features and labels
    heads/<id>/          one version of the task head each: head.npz (weight, bias, labels,
                         temperature, threshold) and head.json (its files' sha256, its parent)
    heads/current.json   the version in use, replaced atomically

A version is written under a staging name and renamed into place complete; the pointer is
replaced in one step; so a device that loses power in the middle of learning boots into one of
its versions. Nothing here imports more than the standard library and numpy.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
ENCODER = "encoder_int8.onnx"
TOKENIZER = "tokenizer.json"
SPELLING = "spelling.json"
MEMORY = "memory.npz"
HEADS = "heads"
POINTER = "current.json"
HEAD_FILE = "head.npz"
HEAD_INFO = "head.json"
LEARNED = "learned.npz"
KEEP_VERSIONS = 3


class DeviceError(Exception):
    """Something the owner of the device can fix; the message names the file, line or field."""


class BundleError(DeviceError):
    """A bundle that is incomplete, altered or of another format."""


def sha256_of(path: Path) -> str:
    """The sha256 of a file's bytes, read in 1 MB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_entry(path: Path) -> dict:
    """What the manifest records of a file: its sha256 and size."""
    return {"sha256": sha256_of(path), "bytes": path.stat().st_size}


def verify_files(folder: Path, entries: dict, what: str) -> None:
    """Every listed file is there with its recorded size and sha256; a BundleError names the first that is not."""
    for name, entry in entries.items():
        path = folder / name
        if not path.is_file():
            raise BundleError(f"{path}: missing ({what} lists it)")
        if path.stat().st_size != entry["bytes"] or sha256_of(path) != entry["sha256"]:
            raise BundleError(f"{path}: checksum mismatch: the file was changed or damaged since {what} was written")


def write_json_atomically(path: Path, data: dict) -> None:
    """Replace ``path`` with ``data`` in one step: written beside it, flushed, renamed over it."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BundleError(f"{path}: missing") from None
    except (OSError, ValueError) as exc:
        raise BundleError(f"{path}: not readable JSON ({exc})") from None


@dataclass
class Head:
    """One version of the task head: logits = features @ weight.T + bias over ``labels``."""

    weight: np.ndarray
    bias: np.ndarray
    labels: list
    temperature: float
    threshold: float

    def save(self, folder: Path) -> None:
        np.savez(folder / HEAD_FILE, weight=self.weight.astype(np.float32), bias=self.bias.astype(np.float32),
                 labels=np.array(self.labels), temperature=np.float32(self.temperature),
                 threshold=np.float32(self.threshold))

    @classmethod
    def load(cls, folder: Path) -> "Head":
        with np.load(folder / HEAD_FILE, allow_pickle=False) as data:
            return cls(data["weight"].astype(np.float32), data["bias"].astype(np.float32),
                       [str(x) for x in data["labels"]], float(data["temperature"]), float(data["threshold"]))


@dataclass
class Examples:
    """Features with their labels, int8 with a scale per row (a unit vector loses little)."""

    features: np.ndarray
    labels: list

    def save(self, path: Path) -> None:
        scale = np.maximum(np.abs(self.features).max(axis=1), 1e-12) / 127.0
        quantized = np.round(self.features / scale[:, None]).astype(np.int8)
        np.savez(path, features=quantized, scale=scale.astype(np.float32), labels=np.array(self.labels, dtype=str))

    @classmethod
    def load(cls, path: Path) -> "Examples":
        with np.load(path, allow_pickle=False) as data:
            features = data["features"].astype(np.float32) * data["scale"][:, None]
            return cls(features, [str(x) for x in data["labels"]])

    @classmethod
    def empty(cls, dimension: int) -> "Examples":
        return cls(np.zeros((0, dimension), dtype=np.float32), [])

    def __add__(self, other: "Examples") -> "Examples":
        return Examples(np.vstack([self.features, other.features]), self.labels + other.labels)


class Bundle:
    """A bundle folder, verified on opening: the manifest's files and the current head version."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise BundleError(f"{self.folder}: no such bundle folder")
        self.manifest = _read_json(self.folder / MANIFEST)
        version = self.manifest.get("format_version")
        if version != FORMAT_VERSION:
            raise BundleError(f"{self.folder / MANIFEST}: format_version {version!r}; this runtime reads "
                              f"{FORMAT_VERSION}")
        verify_files(self.folder, self.manifest["files"], MANIFEST)

    def path(self, name: str) -> Path:
        return self.folder / name

    @property
    def heads(self) -> Path:
        return self.folder / HEADS

    def versions(self) -> list[str]:
        """Every complete head version, oldest first (ids sort by time)."""
        return sorted(p.name for p in self.heads.iterdir() if p.is_dir() and (p / HEAD_INFO).is_file()
                      and not p.name.startswith("."))

    def current(self) -> str:
        return _read_json(self.heads / POINTER)["version"]

    def version_info(self, version: str) -> dict:
        return _read_json(self.heads / version / HEAD_INFO)

    def load_version(self, version: str) -> tuple[Head, Examples | None]:
        """The head of ``version`` and the examples learned on the device up to it, verified."""
        folder = self.heads / version
        info = self.version_info(version)
        verify_files(folder, info["files"], str(folder / HEAD_INFO))
        learned = Examples.load(folder / LEARNED) if LEARNED in info["files"] else None
        return Head.load(folder), learned

    def memory(self) -> Examples | None:
        return Examples.load(self.folder / MEMORY) if MEMORY in self.manifest["files"] else None

    def write_version(self, version: str, head: Head, learned: Examples | None, info: dict,
                      crash_at=lambda step: None) -> None:
        """Write a new head version whole (staging folder, checksums, one rename), then point at it.
        ``crash_at(step)`` is called between the steps (the fault-injection tests kill there)."""
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.heads))
        head.save(staging)
        crash_at("head written")
        if learned is not None:
            learned.save(staging / LEARNED)
        crash_at("examples written")
        files = {name: file_entry(staging / name) for name in (HEAD_FILE, LEARNED) if (staging / name).is_file()}
        write_json_atomically(staging / HEAD_INFO, info | {"files": files})
        crash_at("info written")
        os.rename(staging, self.heads / version)
        crash_at("version renamed")
        self.switch(version)
        crash_at("pointer switched")
        self.prune()

    def switch(self, version: str) -> None:
        write_json_atomically(self.heads / POINTER, {"version": version})

    def prune(self, keep: int = KEEP_VERSIONS) -> None:
        """Staging leftovers go; of the learned versions the newest ``keep`` stay, and the packed one."""
        versions = self.versions()
        keep_ids = set(versions[-keep:]) | {versions[0], self.current()}
        for path in self.heads.iterdir():
            if path.is_dir() and (path.name.startswith(".staging-") or path.name not in keep_ids):
                shutil.rmtree(path, ignore_errors=True)
