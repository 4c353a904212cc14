"""The ASGI entry point for servers: ``uvicorn accord.api.asgi:app`` (settings from ACCORD_*)."""

from accord.api.app import create_app
from accord.runtime import Accord

__all__ = ["app"]

_accord = Accord()
_accord.init()
app = create_app(_accord)
