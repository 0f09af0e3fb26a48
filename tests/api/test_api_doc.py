"""API.md documents every operation the app serves: a new route without its line there fails here.

The served OpenAPI document is the list of operations; API.md names each as ``METHOD /path``,
path templates spelt as OpenAPI spells them (``/v1/cases/{case_id}``). Only this direction is
checked: API.md may describe a route before it is served (one being added on another branch).
"""

from __future__ import annotations

import re
from pathlib import Path

from api.app import create_app
from tests.api.conftest import settings_for

API_MD = Path(__file__).parents[2] / "API.md"
METHODS = ("get", "post", "put", "patch", "delete", "head", "options")
# ``METHOD /path``: the path ends where a query, a table cell, a list or the code span does.
_OPERATION = re.compile(r"\b(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (/[^\s`?|,;)]*)")
_TEMPLATE = re.compile(r"\{([^}]*)\}")


def served_operations(sqlite_url: str, key_dir: Path) -> set[tuple[str, str]]:
    app = create_app(settings_for(sqlite_url, key_dir), projector=False, checkpoints=False)
    paths = app.openapi_schema.to_schema()["paths"]
    return {
        (method.upper(), path)
        for path, item in paths.items()
        for method in item
        if method in METHODS
    }


def documented_operations(text: str) -> set[tuple[str, str]]:
    return {(m[1], m[2]) for m in _OPERATION.finditer(text)}


def test_documented_operations_are_read_as_written() -> None:
    text = (
        "| `POST /v1/cases` | register |\n"
        "`GET /v1/ledger/proofs/inclusion?position=P`, `GET /health`, "
        "POST /v1/cases/{case_id}/classify; GET /v1/cases/{case_id}/trail)"
    )
    assert documented_operations(text) == {
        ("POST", "/v1/cases"),
        ("GET", "/v1/ledger/proofs/inclusion"),
        ("GET", "/health"),
        ("POST", "/v1/cases/{case_id}/classify"),
        ("GET", "/v1/cases/{case_id}/trail"),
    }


def test_every_served_operation_is_in_api_md(sqlite_url: str, key_dir: Path) -> None:
    served = served_operations(sqlite_url, key_dir)
    assert ("POST", "/v1/cases/{case_id}/classify") in served  # templates as API.md spells them
    documented = documented_operations(API_MD.read_text(encoding="utf-8"))
    missing = sorted(f"{method} {path}" for method, path in served - documented)
    assert not missing, f"served but not in API.md: {missing}"


def test_api_md_spells_path_parameters_as_the_served_document(
    sqlite_url: str, key_dir: Path
) -> None:
    """One spelling: ``{case_id}``, never ``{id}``, in every /v1 operation API.md names."""
    served = served_operations(sqlite_url, key_dir)
    names = {name for _, path in served for name in _TEMPLATE.findall(path)}
    documented = documented_operations(API_MD.read_text(encoding="utf-8"))
    odd = sorted(
        f"{method} {path}"
        for method, path in documented
        if path.startswith("/v1/") and not set(_TEMPLATE.findall(path)) <= names
    )
    assert not odd, f"path parameters the served document does not use: {odd}"
