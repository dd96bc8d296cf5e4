"""One Predictor API over interchangeable backends (torch, onnxruntime)."""
from shared.inference.predictor import Prediction, Predictor, available_backends, register_backend

__all__ = ["Prediction", "Predictor", "available_backends", "register_backend"]
