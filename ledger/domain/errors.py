"""Refusals of the domain. Each carries a stable machine ``code``; rule refusals name their rule."""

from __future__ import annotations


class DomainError(Exception):
    """A command was refused; nothing is recorded."""

    code = "DOMAIN_ERROR"
    rule: str | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RuleViolation(DomainError):
    """A command breaks one of the numbered rules of DOMAIN.md (R1–R13)."""

    def __init__(self, rule: str, code: str, message: str) -> None:
        super().__init__(f"{rule}: {message}")
        self.rule = rule
        self.code = code


class InvalidTransition(DomainError):
    """The command does not fit the case's state in its lifecycle (e.g. accept with no transfer)."""

    code = "INVALID_TRANSITION"


class InvalidCommand(DomainError):
    """A value in the command is malformed or unknown (e.g. an unknown unit code)."""

    code = "INVALID_COMMAND"


class NotAssignedUnit(DomainError):
    """Only the unit a meeting assigned a task to records its result (403)."""

    code = "NOT_ASSIGNED_UNIT"


def r1(message: str) -> RuleViolation:
    return RuleViolation("R1", "R1_REGISTRATION_INVALID", message)


def r2(message: str) -> RuleViolation:
    return RuleViolation("R2", "R2_NOT_FIRST_RESPONDER", message)


def r3(message: str) -> RuleViolation:
    return RuleViolation("R3", "R3_CASE_CLOSED", message)


def r4(message: str) -> RuleViolation:
    return RuleViolation("R4", "R4_NOT_HOLDING_UNIT", message)


def r5(message: str) -> RuleViolation:
    return RuleViolation("R5", "R5_COURT_REFERRAL_PRECONDITIONS", message)


def r6(message: str) -> RuleViolation:
    return RuleViolation("R6", "R6_CLOSURE_PRECONDITIONS", message)


def r7(message: str) -> RuleViolation:
    return RuleViolation("R7", "R7_IMMUTABLE_RECORD", message)


def r8(message: str) -> RuleViolation:
    return RuleViolation("R8", "R8_INEXACT_VALUE", message)


def r9(message: str) -> RuleViolation:
    return RuleViolation("R9", "R9_EXTENSION_NOT_ALLOWED", message)


def r10(message: str) -> RuleViolation:
    return RuleViolation("R10", "R10_RECLASSIFICATION_NEEDS_APPROVAL", message)


def r11(message: str) -> RuleViolation:
    return RuleViolation("R11", "R11_NO_AUTHORITY_IN_REFERENCE_DATA", message)


def r12(message: str) -> RuleViolation:
    return RuleViolation("R12", "R12_ONE_COURT_OUTCOME", message)


def r13(message: str) -> RuleViolation:
    return RuleViolation("R13", "R13_CLASSIFY_BEFORE_TRANSFER", message)
