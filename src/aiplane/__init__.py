"""aiplane: a self-hosted AI platform that turns a trained model into a governed service."""

__all__ = ["__version__"]

__version__ = "0.1.0"
