"""One small function per case command: unpack the command and call the aggregate's method."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from ledger import commands as c
from ledger.domain.actor import Actor
from ledger.domain.context import Context
from ledger.domain.dispute import Dispute
from ledger.domain.errors import InvalidCommand

Handler = Callable[[Dispute, Actor, Any, datetime, Context], None]


def classify(case: Dispute, actor: Actor, cmd: c.Classify, now: datetime, ctx: Context) -> None:
    case.classify(actor, cmd.classification, cmd.route, cmd.reason, now, ctx)


def transfer(case: Dispute, actor: Actor, cmd: c.Transfer, now: datetime, ctx: Context) -> None:
    case.transfer(actor, cmd.to_unit, cmd.to_jurisdiction, cmd.reason, now, ctx)


def accept(case: Dispute, actor: Actor, cmd: c.Accept, now: datetime, ctx: Context) -> None:
    case.accept(actor, cmd.note, now)


def decide(case: Dispute, actor: Actor, cmd: c.Decide, now: datetime, ctx: Context) -> None:
    case.decide(actor, cmd.outcome, cmd.finding, cmd.amount, now, ctx)


def consult(case: Dispute, actor: Actor, cmd: c.Consult, now: datetime, ctx: Context) -> None:
    case.consult(actor, cmd.units, cmd.outcome, now, ctx)


def escalate(case: Dispute, actor: Actor, cmd: c.Escalate, now: datetime, ctx: Context) -> None:
    case.escalate(actor, cmd.reason, now, ctx)


def urge(case: Dispute, actor: Actor, cmd: c.Urge, now: datetime, ctx: Context) -> None:
    case.urge(actor, cmd.reason, now, ctx)


def extend(case: Dispute, actor: Actor, cmd: c.Extend, now: datetime, ctx: Context) -> None:
    if cmd.approve is not None:
        if cmd.until is not None:
            raise InvalidCommand("an extension decision carries approve only, not until")
        case.decide_extension(actor, cmd.approve, cmd.reason, now, ctx)
    elif cmd.until is not None:
        case.request_extension(actor, cmd.until, cmd.reason, now, ctx)
    else:
        raise InvalidCommand("give until and reason to request an extension, or approve to decide")


def demand_notice(
    case: Dispute, actor: Actor, cmd: c.ServeDemandNotice, now: datetime, ctx: Context
) -> None:
    case.serve_demand_notice(actor, cmd.served_at, cmd.amount, now)


def confirm_arrears(
    case: Dispute, actor: Actor, cmd: c.ConfirmArrears, now: datetime, ctx: Context
) -> None:
    case.confirm_arrears(actor, cmd.amount, cmd.period_from, cmd.period_to, now)


def refer_to_court(
    case: Dispute, actor: Actor, cmd: c.ReferToCourt, now: datetime, ctx: Context
) -> None:
    case.refer_to_court(actor, cmd.court, cmd.reason, now, ctx)


def court_outcome(
    case: Dispute, actor: Actor, cmd: c.RecordCourtOutcome, now: datetime, ctx: Context
) -> None:
    case.record_court_outcome(actor, cmd.outcome, cmd.detail, now)


def feedback(case: Dispute, actor: Actor, cmd: c.GiveFeedback, now: datetime, ctx: Context) -> None:
    case.give_feedback(actor, cmd.channel, cmd.content, cmd.satisfaction, now, ctx)


def close(case: Dispute, actor: Actor, cmd: c.Close, now: datetime, ctx: Context) -> None:
    case.close(actor, cmd.summary, now, ctx)


def reopen(case: Dispute, actor: Actor, cmd: c.Reopen, now: datetime, ctx: Context) -> None:
    case.reopen(actor, cmd.reason, now, ctx)


def link(case: Dispute, actor: Actor, cmd: c.Link, now: datetime, ctx: Context) -> None:
    case.link(actor, cmd.case_id, cmd.relation, now)


def correct(case: Dispute, actor: Actor, cmd: c.Correct, now: datetime, ctx: Context) -> None:
    case.correct(actor, cmd.position, cmd.correction, cmd.reason, now)


def reveal(
    case: Dispute, actor: Actor, cmd: c.RevealIdentifiers, now: datetime, ctx: Context
) -> None:
    case.reveal_identifiers(actor, cmd.reason, now)


HANDLERS: dict[type[c.Command], Handler] = {
    c.Classify: classify,
    c.Transfer: transfer,
    c.Accept: accept,
    c.Decide: decide,
    c.Consult: consult,
    c.Escalate: escalate,
    c.Urge: urge,
    c.Extend: extend,
    c.ServeDemandNotice: demand_notice,
    c.ConfirmArrears: confirm_arrears,
    c.ReferToCourt: refer_to_court,
    c.RecordCourtOutcome: court_outcome,
    c.GiveFeedback: feedback,
    c.Close: close,
    c.Reopen: reopen,
    c.Link: link,
    c.Correct: correct,
    c.RevealIdentifiers: reveal,
}
