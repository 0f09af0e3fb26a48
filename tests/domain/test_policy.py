"""Deadline policy: DOMAIN.md's FR table defaults, per-deployment JSON, FR9 deadlines."""

from __future__ import annotations

from datetime import date

import msgspec
import pytest

from ledger.config import ConfigError, Settings
from ledger.domain.calendar import Deadline, WorkingCalendar
from ledger.domain.codes import Classification
from ledger.domain.policy import (
    DeadlinePolicy,
    InvalidPolicy,
    RepeatWindow,
    parse_policy,
    petition_limit,
    resolution_deadline,
)

CAL = WorkingCalendar()


def test_defaults_are_the_fr_table_of_domain_md() -> None:
    policy = DeadlinePolicy()
    assert policy.registration_days == 0  # FR1 same working day
    assert policy.classification_days == 1  # FR2
    assert policy.simple_route_days == 0  # FR3
    assert policy.out_of_jurisdiction_transfer_days == 1  # FR4
    assert policy.acceptance_days == 1  # FR5
    assert policy.max_transfers == 3  # FR6
    assert policy.resolution_days == {  # FR9
        Classification.SIMPLE: 0,
        Classification.GENERAL: 10,
        Classification.MAJOR: 30,
    }
    assert policy.court_referral_wait_days == 10  # R5, 行政强制法 第五十四条


def test_empty_json_gives_the_defaults() -> None:
    assert parse_policy(b"{}") == DeadlinePolicy()


def test_a_deployment_can_change_some_settings() -> None:
    policy = parse_policy(
        b'{"acceptance_days": 2, "resolution_days": {"simple": 0, "general": 15, "major": 40}}'
    )
    assert policy.acceptance_days == 2
    assert policy.classification_days == 1
    assert policy.resolution_days[Classification.GENERAL] == 15


def test_policy_round_trips_through_json() -> None:
    policy = DeadlinePolicy(max_transfers=5)
    assert parse_policy(msgspec.json.encode(policy)) == policy


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"acceptance_dayz": 2}', "unknown field `acceptance_dayz`"),
        (b'{"acceptance_days": -1}', "acceptance_days must be 0..250"),
        (b'{"acceptance_days": 1.5}', r"Expected `int`, got `float` - at `\$.acceptance_days`"),
        (b'{"acceptance_days": true}', "Expected `int`, got `bool`"),
        (b'{"acceptance_days": "1"}', "Expected `int`, got `str`"),
        (b'{"max_transfers": 1000}', "max_transfers must be 0..100"),
        (b'{"resolution_days": {"general": 15}}', "resolution_days lacks simple, major"),
        (b'{"resolution_days": {"simple": 0, "general": 1, "major": 2, "huge": 3}}', "huge"),
        (b'{"resolution_days": {"simple": 0, "general": 999, "major": 2}}', "general must be"),
        (b'{"court_referral_wait_days": 9}', "第五十四条"),
        (b"[1]", "Expected `object`"),
        (b"{", "not valid JSON"),
    ],
)
def test_bad_policies_are_refused_clearly(data: bytes, message: str) -> None:
    with pytest.raises(InvalidPolicy, match=message):
        parse_policy(data)


def test_the_legal_ten_day_wait_cannot_be_shortened_in_code_either() -> None:
    with pytest.raises(InvalidPolicy):
        DeadlinePolicy(court_referral_wait_days=3)


def test_policy_is_frozen() -> None:
    with pytest.raises(AttributeError):
        DeadlinePolicy().acceptance_days = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("classification", "due"),
    [
        (Classification.SIMPLE, date(2024, 9, 30)),  # closed the same working day
        (Classification.GENERAL, date(2024, 10, 18)),  # across National Day 2024
        (Classification.MAJOR, date(2024, 11, 15)),
    ],
)
def test_resolution_deadline_counts_working_days(classification: Classification, due: date) -> None:
    deadline = resolution_deadline(DeadlinePolicy(), CAL, date(2024, 9, 30), classification)
    assert deadline == Deadline(due, False)


def test_simple_case_registered_on_a_holiday_is_due_the_next_working_day() -> None:
    deadline = resolution_deadline(DeadlinePolicy(), CAL, date(2024, 10, 3), Classification.SIMPLE)
    assert deadline == Deadline(date(2024, 10, 8), False)


def test_resolution_deadline_in_2027_is_provisional() -> None:
    deadline = resolution_deadline(
        DeadlinePolicy(), CAL, date(2026, 12, 24), Classification.GENERAL
    )
    assert deadline.provisional
    # 10 working days: 25, 28-31 December, then 4-8 January (1 January 2027 is 元旦).
    assert deadline.due == date(2027, 1, 8)


# -- 信访 (petition platform) limits, and FR7's repeat window -------------------------------------


def test_petition_limits_are_the_calendar_days_of_the_regulation_and_only_shorter() -> None:
    policy = DeadlinePolicy()
    assert (
        policy.petition_acceptance_days,
        policy.petition_conclusion_days,
        policy.petition_extension_days,
    ) == (15, 60, 30)
    assert parse_policy(b'{"petition_acceptance_days": 10}').petition_acceptance_days == 10
    for field in ("acceptance", "conclusion", "extension"):
        with pytest.raises(InvalidPolicy, match="信访工作条例"):
            parse_policy(f'{{"petition_{field}_days": 100}}'.encode())


def test_a_petition_period_ending_on_a_rest_day_ends_on_the_next_working_day() -> None:
    # 2025-09-16 + 15 days = 2025-10-01, 国庆: the period ends on 2025-10-09 (10-08 a holiday,
    # 10-11 a make-up working Saturday comes later).
    assert petition_limit(CAL, date(2025, 9, 16), 15) == Deadline(date(2025, 10, 9), False)
    # A working day: itself.
    assert petition_limit(CAL, date(2025, 3, 3), 15) == Deadline(date(2025, 3, 18), False)


def test_the_repeat_window_is_read_from_the_environment_and_checked() -> None:
    default = Settings.from_env({}).context().repeat_window
    assert (default.days, default.unsatisfied_days) == (20, 60)
    env = {"LEDGER_REPEAT_WINDOW_DAYS": "10", "LEDGER_REPEAT_WINDOW_UNSATISFIED_DAYS": "30"}
    window = Settings.from_env(env).context().repeat_window
    assert (window.days, window.unsatisfied_days) == (10, 30)
    shorter = {"LEDGER_REPEAT_WINDOW_DAYS": "30", "LEDGER_REPEAT_WINDOW_UNSATISFIED_DAYS": "10"}
    with pytest.raises(ConfigError, match="shorter"):
        Settings.from_env(shorter).context()
    with pytest.raises(InvalidPolicy):
        RepeatWindow(days=-1)
