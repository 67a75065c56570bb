"""The replica: a standalone Open Inference Protocol (V2) server for one model on ONNX Runtime.

It knows nothing of tenants, keys or costs; the gateway puts those in front of it, and on
Kubernetes the same server runs as a KServe ServingRuntime container.
"""
