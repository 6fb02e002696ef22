"""The HTTP server: JSON API, Server-Sent Events, Prometheus metrics and the dashboard."""

from relay.http.app import create_app
from relay.http.settings import ServerSettings

__all__ = ["ServerSettings", "create_app"]
