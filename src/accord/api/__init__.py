"""The HTTP edge: FastAPI app factory, auth, one router per concern."""

from accord.api.app import create_app

__all__ = ["create_app"]
