"""The operational settings: read from the environment, refused clearly when they make no sense."""

from __future__ import annotations

import pytest

from ledger.config import ConfigError, Settings
from ledger.store.timeouts import DatabaseTimeouts


def test_timeouts_have_sane_defaults_and_follow_the_environment() -> None:
    defaults = Settings.from_env({})
    assert defaults.request_timeout == 4.0
    assert defaults.timeouts == DatabaseTimeouts()
    assert defaults.timeouts.append < defaults.request_timeout < 5
    env = {
        "LEDGER_REQUEST_TIMEOUT": "3.5",
        "LEDGER_DB_CONNECT_TIMEOUT": "1",
        "LEDGER_DB_ACQUIRE_TIMEOUT": "0.5",
        "LEDGER_DB_COMMAND_TIMEOUT": "2",
        "LEDGER_DB_STATEMENT_TIMEOUT": "10",
        "LEDGER_APPEND_TIMEOUT": "3",
    }
    settings = Settings.from_env(env)
    assert settings.request_timeout == 3.5
    assert settings.timeouts == DatabaseTimeouts(
        connect=1, acquire=0.5, command=2, statement=10, append=3
    )
    kwargs = settings.timeouts.connect_kwargs()
    assert kwargs["timeout"] == 1
    assert kwargs["command_timeout"] == 2
    assert kwargs["server_settings"] == {
        "statement_timeout": "10000",
        "idle_in_transaction_session_timeout": "20000",
    }
    assert settings.timeouts.connect_kwargs(command=False) == {"timeout": 1}


@pytest.mark.parametrize("value", ["soon", "0", "-1", "nan", "86400"])
@pytest.mark.parametrize("variable", ["LEDGER_REQUEST_TIMEOUT", "LEDGER_DB_COMMAND_TIMEOUT"])
def test_a_timeout_that_is_not_a_sensible_number_of_seconds_is_refused(
    variable: str, value: str
) -> None:
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env({variable: value})
