"""SMTP server fixtures for the delivery tests; they live in ``tests/smtp_servers.py``."""

from smtp_servers import authenticator, smtp_server, tls, unused_port

__all__ = ["authenticator", "smtp_server", "tls", "unused_port"]
