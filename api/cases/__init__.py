"""The cases resource: ``/v1/cases`` — registration and every command on a case (``writes``,
derived from the command catalogue), the case views, histories and trails (``reads``), and the
recorded reveal of a case's identifiers (``reveal``)."""

from __future__ import annotations

from litestar import Router

from api.cases.reads import CaseReadController
from api.cases.writes import write_handlers


def cases_router() -> Router:
    return Router(path="/v1/cases", route_handlers=[*write_handlers(), CaseReadController])
