"""The gRPC sidecar: every verifier over the versioned ``verifykit.v1`` API.

>>> sidecar, port = create_server(ServerConfig(listen="127.0.0.1:0"))
>>> sidecar.start()
>>> sidecar.stop(grace=1.0)

``verifykit serve`` runs it from the command line (:func:`serve`, after :func:`configure_logging`);
:class:`SidecarProcess` runs that command as a child process; :mod:`verifykit.client` talks to it.
The ``.proto`` files ship inside the package; ``PROTO_ROOT`` is the directory to pass to ``protoc -I``.
"""

from __future__ import annotations

from .._wire import PROTO_ROOT
from ._app import Components, Sidecar, create_server
from ._config import OPTIONS, ServerConfig, load_config, mask_password
from ._process import SidecarProcess
from ._run import configure_logging, serve

__all__ = [
    "OPTIONS",
    "PROTO_ROOT",
    "Components",
    "ServerConfig",
    "Sidecar",
    "SidecarProcess",
    "configure_logging",
    "create_server",
    "load_config",
    "mask_password",
    "serve",
]
