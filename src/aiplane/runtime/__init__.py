"""Adapters to inference runtimes (ONNX Runtime) and model converters (skl2onnx)."""
