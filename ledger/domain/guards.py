"""The rule checks the Dispute commands run before triggering an event.

Each check raises the refusal named after the rule of DOMAIN.md it enforces; a check that is not a
numbered rule (the lifecycle order, malformed values) raises InvalidTransition / InvalidCommand.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Literal
from uuid import UUID

from ledger.domain.actor import Actor
from ledger.domain.codes import Category, Channel, Classification, PayerKind, Role
from ledger.domain.context import Context, Facts, local_date
from ledger.domain.errors import (
    DomainError,
    InvalidCommand,
    InvalidTransition,
    NotAssignedUnit,
    r1,
    r2,
    r3,
    r4,
    r5,
    r6,
    r7,
    r8,
    r9,
    r10,
    r11,
    r12,
    r13,
)
from ledger.domain.identifiers import (
    InvalidIdentifier,
    validate_citizen_id,
    validate_credit_code,
    validate_phone,
)
from ledger.domain.money import InvalidMoney, parse_yuan
from ledger.domain.payer import Assignment, Party, Payer
from ledger.domain.policy import petition_limit
from ledger.domain.reference import ReferenceData, UnknownJurisdiction, UnknownUnit

if TYPE_CHECKING:
    from ledger.domain.dispute import Dispute, Task

# 三(三)5: arrears whose facts are clear, collected by the tax bureau, enforced through the court.
ENFORCEMENT_ROUTE = 5
# Browser and server clocks disagree a little; a contact "in the future" beyond this is refused.
CLOCK_SKEW = timedelta(minutes=5)
# The earliest business time a command may state. These disputes arise under the 1999 collection
# regulations (社会保险费征缴暂行条例) and the later transfer of collection to the tax bureau: a
# time before 1990 is a slip of the keyboard. It also keeps every stored time convertible to UTC
# (a time in year 1 with a positive offset has no UTC equivalent, and no fold could show it).
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
# An extension longer than this is a keying error (as a policy of more than a year of working
# days for any step is: ``ledger.domain.policy``).
MAX_EXTENSION = timedelta(days=366)


def _is_unit(reference: ReferenceData, code: str) -> bool:
    try:
        reference.unit(code)
    except UnknownUnit:
        return False
    return True


def _is_jurisdiction(reference: ReferenceData, code: str) -> bool:
    try:
        reference.jurisdiction(code)
    except UnknownJurisdiction:
        return False
    return True


# Text is recorded as evidence and shown to people: control characters (but tab and line breaks)
# and lone surrogates have no place in it. Characters of these Unicode categories show nothing,
# so text made only of them is as empty as blank text (a zero-width space is not a summary).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_INVISIBLE = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Cn"})


def optional_text(field: str, value: str) -> str:
    """Free text that may be empty, without control characters; trimmed."""
    bad = _CONTROL.search(value)
    if bad is not None:
        raise InvalidCommand(
            f"{field} contains the control character U+{ord(bad.group()):04X} at "
            f"{bad.start()}; text may hold line breaks and tabs, no other control characters"
        )
    return value.strip()


def is_blank(value: str) -> bool:
    return all(unicodedata.category(ch) in _INVISIBLE for ch in value)


def text(field: str, value: str) -> str:
    """Free text that must say something: not empty, not only blanks or invisible marks."""
    value = optional_text(field, value)
    if is_blank(value):
        raise InvalidCommand(f"{field} must not be empty")
    return value


def aware(field: str, moment: datetime) -> datetime:
    """R8: times are timezone-aware (a naive time is ambiguous and refused) and stored in UTC:
    the moment comes back in UTC, whatever offset it was given with. And no business time
    comes before ``EARLIEST``."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise r8(f"{field} must carry a timezone offset")
    if moment < EARLIEST:
        raise InvalidCommand(
            f"{field} {moment.isoformat()} is before {EARLIEST.date().isoformat()}, "
            "earlier than any dispute this ledger records"
        )
    return moment.astimezone(UTC)


def not_in_future(field: str, moment: datetime, now: datetime) -> datetime:
    """``aware``, and not later than now (within ``CLOCK_SKEW``): the moment in UTC."""
    moment = aware(field, moment)
    if moment > now + CLOCK_SKEW:
        raise InvalidCommand(f"{field} {moment.isoformat()} is in the future")
    return moment


def since_receipt(field: str, moment: datetime, case: Dispute) -> None:
    """Nothing that happens in a case happens before the payer's contact that opened it."""
    if moment < case.received_at:
        raise InvalidCommand(
            f"{field} {moment.isoformat()} is before the case was received "
            f"({case.received_at.isoformat()})"
        )


def money(amount: Decimal | str) -> Decimal:
    """R8: exact money only; floats never reach an event."""
    try:
        value = parse_yuan(amount)
    except TypeError as exc:
        raise r8(str(exc)) from None
    except InvalidMoney as exc:
        raise InvalidCommand(str(exc)) from None
    if value <= 0:
        raise InvalidCommand("an amount must be greater than zero")
    return value


def optional_money(amount: Decimal | str | None) -> Decimal | None:
    return None if amount is None else money(amount)


# -- R1 ------------------------------------------------------------------------------------------


def registration(
    actor: Actor,
    received_at: datetime,
    jurisdiction: str,
    summary: str,
    preliminary_opinion: str,
    now: datetime,
    context: Context,
) -> datetime:
    """R1: every item of 三(一) is present and valid (the payer is checked by ``payer``).
    Returns ``received_at`` in UTC (R8)."""
    received_at = aware("received_at", received_at)
    if received_at > now + CLOCK_SKEW:
        raise r1(f"received_at {received_at.isoformat()} is in the future")
    if not _is_jurisdiction(context.reference, jurisdiction):
        raise r1(f"unknown jurisdiction {jurisdiction!r}")
    if not _is_unit(context.reference, actor.unit):
        raise r1(f"the receiving unit {actor.unit!r} is not a known unit")
    for field, value, what in (
        ("summary", summary, "the main content of the dispute (summary)"),
        ("preliminary_opinion", preliminary_opinion, "the preliminary handling opinion"),
    ):
        if is_blank(optional_text(field, value)):
            raise r1(f"{what} is missing")
    return received_at


def payer(given: Payer) -> Payer:
    """R1: the payer named, its identifiers passing their check digits (GB 11643 / GB 32100);
    the payer as recorded (trimmed, identifiers in their canonical form)."""
    name = optional_text("payer.name", given.name)
    if is_blank(name):
        raise r1("the payer's name is missing")
    try:
        if given.kind is PayerKind.EMPLOYER:
            identifier = validate_credit_code(given.identifier)
        else:
            identifier = validate_citizen_id(given.identifier)
        phone = validate_phone(given.phone)
    except InvalidIdentifier as exc:
        raise r1(str(exc)) from None
    return Payer(kind=given.kind, name=name, identifier=identifier, phone=phone)


def checked_payer(kind: PayerKind, name: str, identifier: str, phone: str) -> Payer:
    """``payer`` of the four values."""
    return payer(Payer(kind=kind, name=name, identifier=identifier, phone=phone))


def party(
    field: str, given: Party, refusal: Callable[[str], DomainError] = InvalidCommand
) -> Party:
    """An employer named as a party: a name, and a unified social credit code whose check
    character holds (GB 32100); the party as recorded (trimmed, the code in upper case)."""
    name = optional_text(f"{field}.name", given.name)
    if is_blank(name):
        raise refusal(f"{field}.name is missing")
    try:
        code = validate_credit_code(given.credit_code)
    except InvalidIdentifier as exc:
        raise refusal(f"{field}.credit_code: {exc}") from None
    return Party(name=name, credit_code=code)


def payer_as_party(given: Payer) -> Party | None:
    """The payer as the employer party, when the payer is an employer."""
    if given.kind is PayerKind.EMPLOYER:
        return Party(name=given.name, credit_code=given.identifier)
    return None


def registration_employer(given: Payer, category: Category, employer: Party | None) -> Party | None:
    """R1 (二(一)2): a dispute between an employee and the employer names the employer — the
    payer itself when the payer is the employer, else the ``employer`` of the registration
    (required then). Another category may name one. What the registration records as its own
    employer: None when the payer is the employer (it is the payer, recorded once)."""
    if given.kind is PayerKind.EMPLOYER:
        if employer is not None:
            named = party("employer", employer, r1)
            if named.credit_code != given.identifier:
                raise r1(
                    "the payer is the employer: employer must be left out (or be the payer, "
                    f"credit code {given.identifier}), not {named.credit_code}"
                )
        return None
    if employer is None:
        if category is Category.EMPLOYEE_EMPLOYER:
            raise r1(
                "a dispute between an employee and the employer (employee_employer) raised by "
                "a person names the employer: employer (name and credit_code) is missing"
            )
        return None
    return party("employer", employer, r1)


# -- R2, R3 --------------------------------------------------------------------------------------


def first_responder(case: Dispute, actor: Actor) -> None:
    if actor.staff_id != case.first_responder.staff_id:
        raise r2(
            f"only the first responder {case.first_responder.name} "
            f"({case.first_responder.staff_id}) classifies this case"
        )


def classifier(case: Dispute, actor: Actor) -> None:
    """R2: the first responder classifies — or, when the case was transferred out of its
    jurisdiction before it was classified (R13 allows only that transfer first), the unit that
    accepted it there (``classifier_unit``), and no longer the first responder. So a case is
    never stranded: whoever holds an unclassified case, or its first responder while it is
    still at the first unit, can classify it. (Cases recorded before R13 may have been sent to
    a unit unclassified; the unit that accepted such a case classifies it, the same way.)"""
    if case.classifier_unit is None:
        first_responder(case, actor)
    elif actor.unit != case.classifier_unit:
        raise r2(
            f"the case was accepted by {case.classifier_unit} before it was classified: that "
            "unit classifies it"
        )


def first_classification(case: Dispute) -> None:
    """R10: a case is classified once; a later change of class or route is a reclassification,
    approved by the leading-group office."""
    if case.classification is not None:
        raise r10(
            f"the case is already classified {case.classification.value} (route "
            f"{case.route}); a reclassification is requested (reclassify) and approved by the "
            "leading-group office"
        )


def open_case(case: Dispute) -> None:
    if case.closed:
        raise r3("the case is closed; reopen it first (a reopening is its own event)")


def closed_case(case: Dispute) -> None:
    if not case.closed:
        raise InvalidTransition("only a closed case can be reopened")


def followed_up_case(case: Dispute) -> None:
    if not case.closed:
        raise InvalidTransition(
            "a follow-up visit (回访) is made on a closed case; an open one is fed back"
        )


def may_follow_up(case: Dispute, actor: Actor, context: Context) -> None:
    """The unit that closed the case, or the leading-group office, visits the payer again."""
    if actor.unit == case.holder or _is_office(actor, context):
        return
    raise r4(f"the case was closed by {case.holder}, not by {actor.unit}")


def unsatisfied_follow_up(case: Dispute) -> None:
    if not case.follow_up_flag:
        raise InvalidTransition("no unsatisfied follow-up visit awaits the office's decision")


def classified(case: Dispute) -> None:
    if case.classification is None:
        raise InvalidTransition("classify the case first (三(二): 分类 precedes handling)")


def route(number: int) -> None:
    if not 1 <= number <= 7:
        raise InvalidCommand(
            f"route must be one of the handling routes 1–7 of 三(三), not {number}"
        )


# -- custody and R4 ------------------------------------------------------------------------------


def _is_office(actor: Actor, context: Context) -> bool:
    return actor.has(Role.OFFICE) and actor.unit == context.reference.leading_group_office


def _major(case: Dispute) -> bool:
    return case.classification is Classification.MAJOR or case.escalated


def not_awaiting_acceptance(case: Dispute) -> None:
    target = case.pending_unit or case.pending_jurisdiction
    if target is not None:
        raise InvalidTransition(f"the case awaits acceptance (签收) by {target}")


def may_handle(case: Dispute, actor: Actor, context: Context) -> None:
    """R4: the holding unit acts on the case; the leading-group office may act on major cases."""
    if actor.unit == case.holder:
        return
    if _major(case) and _is_office(actor, context):
        return
    raise r4(f"the case is held by {case.holder}, not by {actor.unit}")


def not_escalated(case: Dispute) -> None:
    if case.escalated:
        raise InvalidTransition("the case is already with the leading group")


def may_escalate(case: Dispute, actor: Actor, context: Context) -> None:
    if actor.unit == case.holder or _is_office(actor, context):
        return
    raise r4(f"only the holding unit {case.holder} or the leading-group office escalates")


def office(actor: Actor, context: Context, what: str) -> None:
    if not _is_office(actor, context):
        raise InvalidTransition(f"only the leading-group office may {what}")


def transfer_target(
    case: Dispute, to_unit: str | None, to_jurisdiction: str | None, context: Context
) -> None:
    if (to_unit is None) == (to_jurisdiction is None):
        raise InvalidCommand("give exactly one of to_unit and to_jurisdiction")
    classified_before_transfer(case, to_unit)
    if to_unit is not None:
        if not _is_unit(context.reference, to_unit):
            raise InvalidCommand(f"unknown unit {to_unit!r}")
        if to_unit == case.holder:
            raise InvalidCommand(f"the case is already held by {to_unit}")
    if to_jurisdiction is not None:
        if not _is_jurisdiction(context.reference, to_jurisdiction):
            raise InvalidCommand(f"unknown jurisdiction {to_jurisdiction!r}")
        if to_jurisdiction == case.jurisdiction:
            raise InvalidCommand(f"the case already belongs to jurisdiction {to_jurisdiction}")


def classified_before_transfer(case: Dispute, to_unit: str | None) -> None:
    """R13 (no stranded case): a case is classified before it is transferred to another unit.
    Only an out-of-jurisdiction transfer (``to_jurisdiction``) may come first — the first unit
    need not judge a matter that is not its jurisdiction's — and then the unit that accepts it
    there classifies it (R2, ``classifier``). Together: every unclassified case is held by a
    unit that may classify it, and every classified one by a unit that may decide it."""
    if case.classification is None and to_unit is not None:
        raise r13(
            "classify the case before transferring it to another unit (三(二): 分类 precedes "
            "流转); only a transfer to the competent jurisdiction (to_jurisdiction) may come first"
        )


def acceptor(case: Dispute, actor: Actor, context: Context) -> None:
    """R4: a transfer is accepted (or returned) by the unit it was sent to; R11: sent to a
    jurisdiction, by a unit the reference data says serves that jurisdiction."""
    if case.pending_unit is None and case.pending_jurisdiction is None:
        raise InvalidTransition("there is no transfer awaiting acceptance")
    if case.pending_unit is not None and actor.unit != case.pending_unit:
        raise r4(f"the case was transferred to {case.pending_unit}, not to {actor.unit}")
    pending = case.pending_jurisdiction
    if pending is not None and not context.reference.serves(actor.unit, pending):
        raise r11(
            f"the case was transferred to jurisdiction {pending}, which {actor.unit} does not serve"
        )


def transfer_return(case: Dispute, actor: Actor, now: datetime, context: Context) -> None:
    """退单: only the side the transfer awaits returns it, and only within its acceptance window
    (FR5's working days); after that it accepts the case and transfers it on."""
    acceptor(case, actor, context)
    assert case.pending_since is not None  # a pending transfer has its time
    window = context.calendar.add_working_days(
        local_date(case.pending_since), context.policy.acceptance_days
    )
    if local_date(now) > window.due:
        raise InvalidTransition(
            f"the acceptance window ended {window.due.isoformat()}: accept the case (签收), "
            "then transfer it on"
        )


def known_units(units: tuple[str, ...], context: Context) -> None:
    if not units:
        raise InvalidCommand("a joint consultation lists the units present")
    seen: set[str] = set()
    for code in units:
        if not _is_unit(context.reference, code):
            raise InvalidCommand(f"unknown unit {code!r}")
        if code in seen:
            raise InvalidCommand(f"unit {code!r} is listed twice")
        seen.add(code)


# -- R5 ------------------------------------------------------------------------------------------


def city_tax_bureau(actor: Actor, context: Context, what: str) -> None:
    """R5 with R11: enforcement staff of a unit the reference data marks as acting for the city
    tax bureau (by default its 社会保险费和非税收入股 and 法制股; never a township station)."""
    if not actor.has(Role.ENFORCEMENT):
        raise r5(f"only the city tax bureau's enforcement staff may {what}")
    if not context.reference.acts_for_city_tax_bureau(actor.unit):
        raise r11(
            f"{actor.unit} does not act for the city tax bureau in the reference data, so its "
            f"staff may not {what}"
        )


def period(period_from: date, period_to: date, now: datetime) -> None:
    """An arrears period: within the ledger's years, and over by the end of this month — no
    contribution is owed for a month that has not come yet."""
    if period_from > period_to:
        raise InvalidCommand("period_from is after period_to")
    if period_from < EARLIEST.date():
        raise InvalidCommand(
            f"period_from {period_from.isoformat()} is before {EARLIEST.date().isoformat()}"
        )
    today = local_date(now)
    month_end = (today.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    if period_to > month_end:
        raise InvalidCommand(
            f"period_to {period_to.isoformat()} is after this month (ends "
            f"{month_end.isoformat()}): no arrears are owed for months to come"
        )


def served_at(moment: datetime, now: datetime) -> datetime:
    """R14: a demand notice may have been served before the case was received (催缴 often
    precedes the dispute), but not after it is recorded (``now``, within ``CLOCK_SKEW``), nor
    before 1990 (``EARLIEST``). The moment in UTC."""
    return not_in_future("served_at", moment, now)


def document_number(value: str) -> str:
    """The notice's document number (文书号), as written on it: text that says something."""
    return text("document_number", value)


def collection_employer(case: Dispute, employer: Party | None, what: str) -> Party:
    """R11 (三(三)5): a demand notice or a court referral is against a named employer — the
    case's own (the payer, or the employer its registration or an earlier notice named), or the
    ``employer`` given, which must then be that one. The employer it is against."""
    if employer is None:
        if case.employer is None:
            raise InvalidCommand(
                f"{what} names the employer it is against: the payer is a person and the case "
                "names no employer yet, so employer (name and credit_code) is required"
            )
        return case.employer
    named = party("employer", employer)
    if case.employer is not None and named.credit_code != case.employer.credit_code:
        raise InvalidCommand(
            f"the case's employer is {case.employer.name} ({case.employer.credit_code}); "
            f"{what} against another employer ({named.credit_code}) belongs to a case of its own"
        )
    return named


def referred(case: Dispute) -> None:
    if not case.referred_to_court:
        raise InvalidTransition("no court-enforcement referral was made on this case")


def court_outcome(case: Dispute, outcome: str, detail: str, corrects: int | None) -> None:
    """R12: one court outcome per referral. A later outcome that differs is a correction and
    names the version of the outcome in force (``corrects``); the same outcome again is a
    duplicate. (Closure does not matter: a ruling may come after the case was closed.)"""
    current = case.court_outcome_version
    if current is None:
        if corrects is not None:
            raise r12(f"there is no court outcome on record to correct (corrects {corrects})")
        return
    if (outcome, detail) == (case.court_outcome, case.court_outcome_detail):
        raise r12(
            f"the court outcome {outcome!r} is already recorded (version {current}); "
            "one outcome per referral"
        )
    if corrects is None:
        raise r12(
            f"the court outcome {case.court_outcome!r} is already recorded (version {current}); "
            f"a different outcome is a correction of it: send corrects {current}"
        )
    if corrects != current:
        raise r12(
            f"corrects must name the outcome in force, recorded at version {current}, "
            f"not {corrects}"
        )


def court_referral(case: Dispute, actor: Actor, now: datetime, context: Context) -> None:
    """R5 (三(三)5, 行政强制法 第五十四条): facts clear, notice served 10 days ago, arrears set."""
    city_tax_bureau(actor, context, "refer a case to the People's Court")
    if case.referred_to_court:
        raise InvalidTransition("the case has already been referred to the court")
    if case.route != ENFORCEMENT_ROUTE:
        raise r11(
            f"the case is routed to 三(三){case.route}, not to 三(三){ENFORCEMENT_ROUTE} "
            "(collection and enforcement): only such a case is referred to the court"
        )
    missing = []
    if not case.facts_established:
        missing.append("no decision has established the facts")
    served = case.demand_notice_served_at
    wait = timedelta(days=context.policy.court_referral_wait_days)
    if served is None:
        missing.append("no demand notice (催告书) has been served")
    elif now < served + wait:
        missing.append(
            f"the demand notice was served {served.isoformat()}; "
            f"{context.policy.court_referral_wait_days} days must pass first"
        )
    if case.arrears is None:
        missing.append("the arrears amount has not been confirmed")
    if missing:
        raise r5("; ".join(missing))


# -- R6, R7, R9 ----------------------------------------------------------------------------------


def decision_to_feed_back(case: Dispute) -> None:
    if not case.decided:
        raise InvalidTransition("there is no decision to feed back to the payer yet")


def closure(case: Dispute) -> None:
    if not case.decided:
        raise r6("a case is closed only after a decision (or on-the-spot resolution)")
    if not case.feedback_given:
        raise r6("the result has not been fed back to the payer since the last decision")


def correction(case: Dispute, position: int, facts: Facts) -> None:
    """R7: a correction names an event of this case, which stays as it was."""
    if position < 1:
        raise r7("a correction names the position of the event it corrects")
    if position not in facts.positions:
        raise InvalidCommand(f"position {position} is not an event of case {case.id}")


def link(case: Dispute, other: UUID, facts: Facts) -> None:
    if other == case.id:
        raise InvalidTransition("a case cannot be linked to itself")
    if other not in facts.existing_cases:
        raise InvalidCommand(f"there is no case {other} to link to")
    if other in case.links:
        raise InvalidTransition(f"the case is already linked to {other}")


def extension_request(case: Dispute, until: date, now: datetime) -> None:
    if case.due is None:
        raise r9("the case has no deadline yet; classify it first")
    if case.extension_requested_until is not None:
        raise r9("an extension request is already awaiting the office's decision")
    if local_date(now) > case.due:
        raise r9(
            f"the deadline {case.due.isoformat()} has passed; an extension is requested before it"
        )
    if until <= case.due:
        raise r9(f"the new deadline must be after the current one ({case.due.isoformat()})")
    if until > case.due + MAX_EXTENSION:
        raise InvalidCommand(
            f"the new deadline {until.isoformat()} is more than a year after the current one "
            f"({case.due.isoformat()}): a keying error, not an extension"
        )


def extension_form(until: date | None, approve: bool | None) -> Literal["request", "decide"]:
    """An extension command either requests (``until``) or decides (``approve``), never both."""
    if approve is not None:
        if until is not None:
            raise InvalidCommand("an extension decision carries approve only, not until")
        return "decide"
    if until is None:
        raise InvalidCommand("give until and reason to request an extension, or approve to decide")
    return "request"


def extension_decision(case: Dispute, actor: Actor, context: Context) -> date:
    """R9: the office decides a pending request; the date requested."""
    if case.extension_requested_until is None:
        raise InvalidTransition("there is no extension request to decide")
    if not _is_office(actor, context):
        raise r9("only the leading-group office approves or refuses an extension")
    return case.extension_requested_until


def petition_extension(case: Dispute, until: date, context: Context) -> None:
    """R9 for a petition-platform matter (信访): 信访工作条例 lets the conclusion limit (60 days
    from acceptance) be extended by at most 30 days, all extensions together — counted as the
    limit is (``policy.petition_limit``)."""
    if case.channel is not Channel.PETITION_PLATFORM or case.accepted_on is None:
        return
    policy = context.policy
    days = policy.petition_conclusion_days + policy.petition_extension_days
    latest = petition_limit(context.calendar, case.accepted_on, days).due
    if until > latest:
        raise r9(
            f"a petition matter (信访工作条例) is extended by at most "
            f"{policy.petition_extension_days} days: accepted {case.accepted_on.isoformat()}, "
            f"so not past {latest.isoformat()}, not to {until.isoformat()}"
        )


# -- assignments (交办/转办, 二(二)3) -------------------------------------------------------------


def assignment(
    given: Assignment | None,
    received_at: datetime,
    recorded_on: date | None = None,
    refusal: Callable[[str], DomainError] = r1,
) -> Assignment | None:
    """The body that assigned the matter and the date it set for the reply: a reply is due on or
    after the day the matter was received (else ``refusal``: R1 at registration), within a year
    of the day the assignment is recorded (``recorded_on``, default the day it was received;
    later is a keying error)."""
    if given is None:
        return None
    received = local_date(received_at)
    if given.reply_due < received:
        raise refusal(
            f"assignment.reply_due {given.reply_due.isoformat()} is before the matter was "
            f"received ({received.isoformat()})"
        )
    since = max(received, recorded_on or received)
    if given.reply_due > since + MAX_EXTENSION:
        raise InvalidCommand(
            f"assignment.reply_due {given.reply_due.isoformat()} is more than a year after the "
            f"matter was {'received' if since == received else 'assigned'}: a keying error"
        )
    return Assignment(
        body=given.body,
        reply_due=given.reply_due,
        body_name=optional_text("assignment.body_name", given.body_name),
        reference=optional_text("assignment.reference", given.reference),
    )


def later_assignment(
    case: Dispute, actor: Actor, given: Assignment, now: datetime, context: Context
) -> Assignment:
    """An assignment recorded on a registered case (the office or a superior body handed the
    matter down after the fact); the command has checked that the case is open (R3). One
    assignment per case, from its registration or an earlier record (InvalidTransition, 409);
    recorded by the unit holding the case or the leading-group office, who owe its reply (R4);
    its reply date checked as at registration (``assignment``), though a date before the matter
    was received is a malformed value here (422), not R1: no registration is refused. The
    assignment as recorded."""
    if case.assignment is not None:
        a = case.assignment
        raise InvalidTransition(
            f"the matter already has its assignment ({a.body.value}, reply due "
            f"{a.reply_due.isoformat()}); a case owes one body one reply (a wrong record is "
            "noted with a correction, R7)"
        )
    if actor.unit != case.holder and not _is_office(actor, context):
        raise r4(
            f"the case is held by {case.holder}, which records its assignment (or the "
            f"leading-group office), not {actor.unit}"
        )
    recorded = assignment(given, case.received_at, local_date(now), InvalidCommand)
    assert recorded is not None
    return recorded


def assignment_reply(case: Dispute, actor: Actor, context: Context) -> None:
    """A reply goes to the body that assigned the matter, from the unit holding the case (or
    that closed it: a reply often follows the closure), or the leading-group office."""
    if case.assignment is None:
        raise InvalidTransition("the matter was not assigned by another body: no reply is owed")
    if actor.unit == case.holder or _is_office(actor, context):
        return
    raise r4(f"the case is held by {case.holder}, which replies, not {actor.unit}")


# -- R10 -----------------------------------------------------------------------------------------


def reclassification_form(
    classification: Classification | None, route: int | None, approve: bool | None
) -> Literal["request", "decide"]:
    """A reclassify command either requests (``classification``, ``route``, ``reason``) or
    decides (``approve``, the office), never both."""
    if approve is not None:
        if classification is not None or route is not None:
            raise InvalidCommand(
                "a reclassification decision carries approve (and reason) only, not "
                "classification or route"
            )
        return "decide"
    if classification is None or route is None:
        raise InvalidCommand(
            "give classification, route and reason to request a reclassification, or approve "
            "to decide one"
        )
    return "request"


def reclassification_request(
    case: Dispute, actor: Actor, classification: Classification, number: int, context: Context
) -> None:
    """R10: after the first classification, a change of class or route is requested — by
    whoever may classify the case (R2) or the unit holding it (R4) — and waits for the
    office's decision; one request at a time."""
    classified(case)
    route(number)
    if case.reclassification_requested is not None:
        raise r10("a reclassification request already awaits the office's decision")
    if (classification, number) == (case.classification, case.route):
        raise InvalidCommand(
            f"the case is already classified {classification.value}, route {number}"
        )
    try:
        classifier(case, actor)
    except DomainError:
        may_handle(case, actor, context)


def reclassification_decision(
    case: Dispute, actor: Actor, context: Context
) -> tuple[Classification, int]:
    """R10: only the leading-group office approves or refuses a pending reclassification; the
    class and route requested."""
    if case.reclassification_requested is None or case.reclassification_route is None:
        raise InvalidTransition("there is no reclassification request to decide")
    if not _is_office(actor, context):
        raise r10("only the leading-group office approves or refuses a reclassification")
    return case.reclassification_requested, case.reclassification_route


# -- meetings' tasks (四) --------------------------------------------------------------------------


def task_to_complete(task: Task | None, key: str, actor: Actor) -> None:
    """Only an open task, and only by the unit it is assigned to."""
    if task is None:
        raise InvalidCommand(f"the case has no task {key} of a meeting")
    if task.done:
        raise InvalidTransition(f"task {key} is done already")
    if actor.unit != task.assigned_unit:
        raise NotAssignedUnit(f"task {key} is assigned to {task.assigned_unit}, not {actor.unit}")
