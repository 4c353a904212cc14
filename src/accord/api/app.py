"""The FastAPI application factory.

``create_app(accord)`` mounts one router per concern: HMA's 1.x routes at the
root (so HMA clients work unchanged) and accord's own under ``/v1``. Every
route but ``/status`` requires an API key.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from accord import __version__
from accord.api.errors import install_error_handlers
from accord.matching import robust
from accord.runtime import Accord

__all__ = ["create_app"]


def create_app(
    accord: Accord | None = None, *, start_matcher: bool = True, fast_lookups: bool = True
) -> FastAPI:
    """The HTTP service of one accord home.

    ``fast_lookups``: answer the plain forms of ``GET /m/lookup`` and ``/m/raw_lookup``
    before Starlette's stack (:mod:`accord.api.fast`); the answers are the same."""
    accord = accord or Accord()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if start_matcher:
            accord.matcher.start()
            accord.webhooks.start()  # moderation webhooks (a no-op when none are configured)
            # the photo lookup's compiled kernels, loaded before the first upload needs them
            threading.Thread(target=robust.warm_up, name="accord-warm-up", daemon=True).start()
        issuer = None
        if accord.settings.ledger_checkpoint_seconds > 0:
            from accord.ledger.service import CheckpointIssuer

            issuer = CheckpointIssuer(
                accord.ledger_service, accord.settings.ledger_checkpoint_seconds
            )
            issuer.start()
        try:
            yield
        finally:
            if issuer is not None:
                issuer.stop()
            accord.close()

    from accord.api.fast import ServiceApp

    app = ServiceApp(
        title="accord",
        version=__version__,
        summary="Hash matching, moderation, data rights and a verifiable ledger.",
        lifespan=lifespan,
    )
    app.state.accord = accord
    app.fast_lookups = fast_lookups
    install_error_handlers(app)

    from accord.api.routers import banks, exchange, hma, ledger, moderation, reports, rights, status

    app.include_router(status.router)
    app.include_router(hma.router)
    app.include_router(banks.router, prefix="/v1")
    app.include_router(exchange.router, prefix="/v1")
    app.include_router(rights.router, prefix="/v1")
    app.include_router(moderation.router, prefix="/v1")
    app.include_router(ledger.router, prefix="/v1")
    app.include_router(reports.router, prefix="/v1")
    return app
