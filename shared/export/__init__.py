"""Deployment exports, kept apart from modelling: ONNX and int8 dynamic quantization."""
from shared.export.onnx import export_onnx, quantize_int8

__all__ = ["export_onnx", "quantize_int8"]
