"""The HTTP server: JSON API, Server-Sent Events, Prometheus metrics and the dashboard.

Its names load on first use (PEP 562), so the SDK (`relay.client`, which imports
`relay.http.calls`) does not start the server's imports.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from relay.http.app import create_app
    from relay.http.settings import ServerSettings

__all__ = ["ServerSettings", "create_app"]


_LAZY = {"create_app": "relay.http.app", "ServerSettings": "relay.http.settings"}

if not TYPE_CHECKING:  # type checkers see the imports above; a typo stays an error

    def __getattr__(name: str) -> Any:
        if name not in _LAZY:
            raise AttributeError(f"module 'relay.http' has no attribute {name!r}")
        return getattr(import_module(_LAZY[name]), name)
