"""Deadline policy: the numbers behind the first-responder checks FR1–FR9 and rule R5.

The seed (潜税发〔2024〕5号) names no time limits — it says 及时 ("promptly") and 当场办结
("closed on the spot"). DOMAIN.md's FR table gives the defaults used here; a deployment may load
its own from JSON (:func:`parse_policy`). Working-day counts follow the convention of
:mod:`ledger.domain.calendar` (N = 0: the same working day).

The one number that is law rather than policy is ``court_referral_wait_days``: 行政强制法
第五十四条 lets an agency apply to the court only once 10 days have passed since the written demand
(催告书) was served; a policy may lengthen that wait, never shorten it.

Matters from the petition platform (信访, channel ``petition_platform``) have time limits set by
信访工作条例 (2022) instead of the class limits: whether to accept is decided within 15 days of
receipt, an accepted matter is concluded within 60 days of acceptance (受理之日), and that limit is
extended by at most 30 days. They are **calendar days** (the regulation says 日, not 工作日),
counted as PRC law counts periods (民法典 第二百零一条, 第二百零三条): the day it starts is not
counted, and a period ending on a rest day or holiday ends on the next working day. A policy may
shorten these limits, never lengthen them (``petition_*_days``).
"""

from __future__ import annotations

from datetime import date, timedelta

import msgspec

from ledger.domain.calendar import Deadline, WorkingCalendar
from ledger.domain.codes import Classification

__all__ = [
    "LEGAL_MIN_COURT_REFERRAL_WAIT_DAYS",
    "PETITION_LIMITS",
    "DeadlinePolicy",
    "InvalidPolicy",
    "RepeatWindow",
    "parse_policy",
    "petition_limit",
    "resolution_deadline",
]

# 行政强制法 第五十四条: 催告书送达十日后 (calendar days).
LEGAL_MIN_COURT_REFERRAL_WAIT_DAYS = 10
# 信访工作条例 (2022): 15日 to decide whether to accept, 60日 to conclude, extended by ≤ 30日.
PETITION_LIMITS = {"acceptance": 15, "conclusion": 60, "extension": 30}
# More than a year of working days for any step is a keying error, not a policy.
_MAX_WORKING_DAYS = 250


class InvalidPolicy(ValueError):
    """A deadline policy with a missing, unknown or out-of-range setting."""


def _default_resolution_days() -> dict[Classification, int]:
    # FR9 (久拖不决): simple 0, general 10, major 30 working days after registration.
    return {Classification.SIMPLE: 0, Classification.GENERAL: 10, Classification.MAJOR: 30}


class DeadlinePolicy(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Time limits in working days unless said otherwise; defaults are DOMAIN.md's FR table.

    ``resolution_days`` is a plain dict (msgspec has no frozen mapping): treat it as read-only.
    """

    registration_days: int = 0  # FR1: registered the same working day as the contact
    classification_days: int = 1  # FR2: classified 1 working day after registration
    simple_route_days: int = 0  # FR3: a simple matter closed on the spot, same day
    out_of_jurisdiction_transfer_days: int = 1  # FR4: 非本辖区 → competent jurisdiction
    acceptance_days: int = 1  # FR5: a transferred case is accepted (签收)
    max_transfers: int = 3  # FR6: more transfers than this is flagged as 推诿
    resolution_days: dict[Classification, int] = msgspec.field(
        default_factory=_default_resolution_days
    )  # FR9
    court_referral_wait_days: int = LEGAL_MIN_COURT_REFERRAL_WAIT_DAYS  # R5, calendar days
    # 信访 (petition platform) matters, calendar days (信访工作条例; see the module).
    petition_acceptance_days: int = PETITION_LIMITS["acceptance"]
    petition_conclusion_days: int = PETITION_LIMITS["conclusion"]
    petition_extension_days: int = PETITION_LIMITS["extension"]

    def __post_init__(self) -> None:
        for name in (
            "registration_days",
            "classification_days",
            "simple_route_days",
            "out_of_jurisdiction_transfer_days",
            "acceptance_days",
        ):
            _check_days(name, getattr(self, name))
        if not 0 <= self.max_transfers <= 100:
            raise InvalidPolicy(f"policy: max_transfers must be 0..100, got {self.max_transfers}")
        missing = [c.value for c in Classification if c not in self.resolution_days]
        if missing:
            # Every class needs its own limit: a silent default would hide a typo in the file.
            raise InvalidPolicy(f"policy: resolution_days lacks {', '.join(missing)}")
        for classification, days in self.resolution_days.items():
            _check_days(f"resolution_days.{classification.value}", days)
        for limit, most in PETITION_LIMITS.items():
            name = f"petition_{limit}_days"
            if not 0 <= getattr(self, name) <= most:
                raise InvalidPolicy(
                    f"policy: {name} must be 0..{most} days, got {getattr(self, name)}; "
                    "信访工作条例 sets the limit, a policy may only shorten it"
                )
        if not LEGAL_MIN_COURT_REFERRAL_WAIT_DAYS <= self.court_referral_wait_days <= 365:
            raise InvalidPolicy(
                f"policy: court_referral_wait_days must be 10..365, got"
                f" {self.court_referral_wait_days}; 行政强制法 第五十四条 requires at least 10 days"
                " after the demand notice is served"
            )


def _check_days(name: str, value: int) -> None:
    if not 0 <= value <= _MAX_WORKING_DAYS:
        raise InvalidPolicy(
            f"policy: {name} must be 0..{_MAX_WORKING_DAYS} working days, got {value}"
        )


def parse_policy(data: bytes) -> DeadlinePolicy:
    """Read a policy from JSON; absent settings keep their defaults, unknown ones are refused.

    ``resolution_days``, when given, must name all of ``simple``, ``general`` and ``major``.
    """
    try:
        return msgspec.json.decode(data, type=DeadlinePolicy)
    except msgspec.ValidationError as exc:
        message = str(exc)
        raise InvalidPolicy(
            message if message.startswith("policy") else f"policy: {message}"
        ) from None
    except msgspec.DecodeError as exc:
        raise InvalidPolicy(f"policy: not valid JSON ({exc})") from None


def resolution_deadline(
    policy: DeadlinePolicy,
    calendar: WorkingCalendar,
    registered_on: date,
    classification: Classification,
) -> Deadline:
    """FR9: the day by which a case of ``classification`` registered on ``registered_on``
    (Asia/Shanghai date) must be closed; provisional where the calendar had to guess."""
    return calendar.add_working_days(registered_on, policy.resolution_days[classification])


def petition_limit(calendar: WorkingCalendar, start: date, days: int) -> Deadline:
    """The last day of a period of ``days`` calendar days from ``start`` (信访工作条例): the
    start day not counted, and moved to the next working day when it falls on a rest day or a
    holiday (民法典 第二百零一条, 第二百零三条); provisional where the calendar had to guess."""
    return calendar.add_working_days(start + timedelta(days=days), 0)


class RepeatWindow(msgspec.Struct, frozen=True, kw_only=True):
    """FR7 (重复跑): how long after a case was closed the same payer coming back is a repeat
    trip, in working days; longer when the payer's last word on it was unsatisfied (a feedback
    or a follow-up visit). Settings (``LEDGER_REPEAT_WINDOW_DAYS``,
    ``LEDGER_REPEAT_WINDOW_UNSATISFIED_DAYS``), not policy: they say what an inspection counts,
    not what anyone owes."""

    days: int = 20
    unsatisfied_days: int = 60

    def __post_init__(self) -> None:
        _check_days("repeat window", self.days)
        _check_days("repeat window after an unsatisfied feedback", self.unsatisfied_days)
        if self.unsatisfied_days < self.days:
            raise InvalidPolicy(
                f"the repeat window after an unsatisfied feedback ({self.unsatisfied_days}) is "
                f"shorter than the plain one ({self.days})"
            )
