"""FastAPI dependencies: the :class:`Accord` of the app, and the calling principal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from accord.keys.service import Principal
from accord.runtime import Accord

__all__ = ["AccordDep", "PrincipalDep", "get_accord", "get_principal", "requires"]

_bearer = HTTPBearer(auto_error=False, description="An accord API key: `accord keys create`.")


def get_accord(request: Request) -> Accord:
    accord: Accord = request.app.state.accord
    return accord


AccordDep = Annotated[Accord, Depends(get_accord)]


def get_principal(
    accord: AccordDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    return accord.keys.authenticate(credentials.credentials if credentials else None)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def requires(permission: str) -> Callable[[Principal], Principal]:
    """A dependency that authenticates the caller and checks one permission."""

    def check(principal: PrincipalDep) -> Principal:
        principal.require(permission)
        return principal

    return check
