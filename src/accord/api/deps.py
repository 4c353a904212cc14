"""FastAPI dependencies: the :class:`Accord` of the app, and the calling principal."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from accord.keys.service import Principal
from accord.runtime import Accord

__all__ = ["AccordDep", "PrincipalDep", "get_accord", "get_principal", "requires"]

_bearer = HTTPBearer(auto_error=False, description="An accord API key: `accord keys create`.")


# Dependencies are ``async def`` so that FastAPI runs them on the event loop instead
# of hopping to the thread pool for each one: they are cheap (authentication is
# cached per process), and the hops cost more than the work on a 2-core machine.


async def get_accord(request: Request) -> Accord:
    accord: Accord = request.app.state.accord
    return accord


AccordDep = Annotated[Accord, Depends(get_accord)]


async def get_principal(
    accord: AccordDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    return accord.keys.authenticate(credentials.credentials if credentials else None)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def requires(permission: str) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that authenticates the caller and checks one permission."""

    async def check(principal: PrincipalDep) -> Principal:
        principal.require(permission)
        return principal

    return check
