"""Fixtures for the sidecar tests; they live in ``sidecars.py`` so test modules can import its types."""

from sidecars import pki, serve, serve_process, sidecar

__all__ = ["pki", "serve", "serve_process", "sidecar"]
