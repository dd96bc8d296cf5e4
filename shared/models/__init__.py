"""Pretrained encoders (an offline registry) and the task heads built on them."""
from shared.models.heads import TaskHead, build_head, get_head, register_head
from shared.models.registry import (
    ModelNotFoundError,
    PretrainedModel,
    available_models,
    register_model,
    resolve_model,
)

__all__ = [
    "ModelNotFoundError",
    "PretrainedModel",
    "available_models",
    "register_model",
    "resolve_model",
    "TaskHead",
    "build_head",
    "get_head",
    "register_head",
]
