"""``ledger serve --workers N``: uvicorn starts N processes, each of which builds its app here
(from the environment, as ``ledger serve`` left it for them). They share the listening socket;
which of them runs the projection runner and the checkpoint signer is decided by election
(``api.election``), so none needs a flag.
"""

from __future__ import annotations

import os

from litestar import Litestar

from api.app import create_app
from api.observability import configure_logging
from ledger.config import Settings
from ledger.process import tune_gc

# What ``ledger serve`` passes its worker processes (they start afresh, not forked).
LOG_LEVEL = "LEDGER_SERVE_LOG_LEVEL"
LOG_FORMAT = "LEDGER_SERVE_LOG_FORMAT"
NO_PROJECTOR = "LEDGER_SERVE_NO_PROJECTOR"
NO_CHECKPOINTS = "LEDGER_SERVE_NO_CHECKPOINTS"


def app() -> Litestar:
    """The app of one worker process (uvicorn's ``factory``)."""
    configure_logging(os.environ.get(LOG_LEVEL, "info"), os.environ.get(LOG_FORMAT, "json"))
    tune_gc()
    return create_app(
        Settings.from_env(),
        projector=not os.environ.get(NO_PROJECTOR),
        checkpoints=not os.environ.get(NO_CHECKPOINTS),
    )
