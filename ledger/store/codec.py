"""The codec: eventsourcing's Mapper seam with msgspec JSON and typed decoding.

eventsourcing's stock ``JSONTranscoder`` gives back whatever ``json.loads`` makes of the bytes: a
``StrEnum`` member comes back as a plain ``str``, a tuple as a list, a nested Struct as a dict.
Rules compare ``status is CaseStatus.CLOSED`` and money must stay ``Decimal``, so that silent
loss of type is a bug waiting to happen. Here the bytes are decoded untyped (so upcasters see the
stored shape, exactly as with the library's Mapper) and only then converted, in one msgspec pass,
into the types the event class declares — or, when that would give the same event (no upcasting,
no undeclared keys: nearly always), decoded straight into those types (see ``TypedMapper``).

Stored bytes are deterministic (sorted keys): the same event always encodes to the same bytes,
which the hash chain (``ledger.store.chain``) and idempotency fingerprints rely on.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Hashable
from typing import Any, ClassVar, TypeVar, cast
from uuid import UUID

import msgspec
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    Mapper,
    MapperDeserialisationError,
    StoredEvent,
    Transcoder,
    find_id_convertor,
)
from eventsourcing.utils import resolve_topic

from ledger.store.port import NewEvent, RecordedEvent

__all__ = [
    "MsgspecTranscoder",
    "TypedMapper",
    "decode_metadata",
    "default_mapper",
    "encode_metadata",
    "event_schema",
]

# One encoder for everything: sorted keys (dicts and Struct fields alike) make the encoding a
# function of the value only. Decimals are written as strings, so no precision is ever lost.
_ENCODER = msgspec.json.Encoder(order="sorted", decimal_format="string")
_DECODER: msgspec.json.Decoder[Any] = msgspec.json.Decoder()
_METADATA_DECODER = msgspec.json.Decoder(dict[str, Any])


class MsgspecTranscoder(Transcoder):
    """msgspec JSON with deterministic key order; decoding is untyped (see ``TypedMapper``)."""

    def encode(self, obj: Any) -> bytes:
        # The sorting encoder only takes str-keyed dicts; to_builtins first turns other keys
        # (a dict of UUIDs, say) into their string form, exactly as JSON would write them.
        return _ENCODER.encode(msgspec.to_builtins(obj, str_keys=True))

    def decode(self, data: bytes) -> Any:
        return _DECODER.decode(data)


def encode_metadata(metadata: dict[str, Any]) -> bytes:
    """Canonical JSON (sorted keys) of an event's metadata, as stored in ``NewEvent.metadata``."""
    return _ENCODER.encode(msgspec.to_builtins(metadata, str_keys=True))


def decode_metadata(data: bytes) -> dict[str, Any]:
    return _METADATA_DECODER.decode(data)


_SCHEMAS: dict[type, type[msgspec.Struct]] = {}


def event_schema(cls: type) -> type[msgspec.Struct]:
    """A msgspec Struct mirroring the state of event class ``cls``; built once per class.

    Field types come from ``typing.get_type_hints`` (which walks the MRO, so fields inherited from
    eventsourcing's base events are included). A field missing from an older event takes its
    dataclass default, or None if its type admits None: eventsourcing's ``@event`` classes do not
    keep the decorated method's defaults, so an optional field added later needs no upcaster.
    Any other new field needs one (``class_version`` + ``upcast_vN_vN+1``).
    """
    schema = _SCHEMAS.get(cls)
    if schema is None:
        # Built at most a few times if threads race; every build is the same, so no lock.
        schema = _SCHEMAS[cls] = _build_schema(cls)
    return schema


def _build_schema(cls: type) -> type[msgspec.Struct]:
    try:
        hints = typing.get_type_hints(cls)
    except Exception as exc:  # an unresolvable annotation must not decode silently as Any
        raise TypeError(f"cannot resolve the annotations of {cls.__qualname__}: {exc}") from exc
    defaults: dict[str, Any] = {}
    if dataclasses.is_dataclass(cls):
        for f in dataclasses.fields(cls):
            if f.default is not dataclasses.MISSING:
                defaults[f.name] = f.default
            elif f.default_factory is not dataclasses.MISSING:
                defaults[f.name] = msgspec.field(default_factory=f.default_factory)
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for name, hint in hints.items():
        if hint is ClassVar or typing.get_origin(hint) is ClassVar:
            continue
        if isinstance(hint, TypeVar):
            # originator_id is annotated with the aggregate's ID type variable; the mapper sets
            # it from the stored record itself, already converted.
            hint = Any
        if name in defaults:
            fields.append((name, hint, defaults[name]))
        elif _admits_none(hint):
            fields.append((name, hint, None))
        else:
            fields.append((name, hint))
    return msgspec.defstruct(
        f"{cls.__qualname__}.State", fields, kw_only=True, module=cls.__module__
    )


def _admits_none(hint: Any) -> bool:
    return hint is Any or hint is None or type(None) in typing.get_args(hint)


class _Fast(typing.NamedTuple):
    """What the fast path needs to decode one event class."""

    decoder: msgspec.json.Decoder[Any]
    class_version: int


_FAST: dict[type, _Fast] = {}

# The stored state never holds these (the Mapper takes them from the record); if it ever does,
# the fast schema does not declare them, so such an event takes the library's path (which
# overrides them).
_FROM_RECORD = frozenset({"originator_id", "originator_version"})


def _fast(cls: type) -> _Fast:
    fast = _FAST.get(cls)
    if fast is None:
        fast = _FAST[cls] = _Fast(
            msgspec.json.Decoder(_build_fast_schema(cls)), getattr(cls, "class_version", 1)
        )
    return fast


def _build_fast_schema(cls: type) -> type[msgspec.Struct]:
    """``event_schema(cls)`` without the fields the record supplies, plus the stored
    ``class_version`` (absent means 1), refusing any key it does not declare: an event the fast
    path cannot decode exactly as the library's Mapper would fails to decode and takes that path."""
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for f in msgspec.structs.fields(event_schema(cls)):
        if f.name in _FROM_RECORD:
            continue
        if f.default is not msgspec.NODEFAULT:
            fields.append((f.name, f.type, f.default))
        elif f.default_factory is not msgspec.NODEFAULT:
            fields.append((f.name, f.type, msgspec.field(default_factory=f.default_factory)))
        else:
            fields.append((f.name, f.type))
    fields.append(("class_version", int, 1))
    return msgspec.defstruct(
        f"{cls.__qualname__}.StoredState",
        fields,
        kw_only=True,
        forbid_unknown_fields=True,
        module=cls.__module__,
    )


class TypedMapper(Mapper[UUID]):
    """eventsourcing's Mapper, decoding each event's state into its declared types.

    Two paths give the same events. The library's (``_decode_as_library``): untyped decode,
    upcasting on the stored shape, one ``msgspec.convert`` into the declared types, keys the
    class does not declare kept as decoded. The fast path, taken whenever it can give exactly the
    same result: the bytes are decoded straight into the class's schema by a decoder cached per
    class (about twice as fast). It cannot when the event needs upcasting (stored
    ``class_version`` below the class's), holds a key the class does not declare, does not decode
    strictly (the library's path converts leniently, and reports real errors), or when a cipher,
    a compressor or another transcoder is configured; those events take the library's path.
    """

    # False: always the library's path (the eventsourcing baseline of the benchmark uses it so
    # that it measures the library's read path, not ours).
    fast_decode: ClassVar[bool] = True

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        return self._domain_event(
            stored_event.originator_id,
            stored_event.originator_version,
            stored_event.topic,
            stored_event.state,
            stored_event,
        )

    def _domain_event(
        self,
        originator_id: UUID | str,
        originator_version: int,
        topic: str,
        state: bytes,
        stored_event: StoredEvent | None = None,
    ) -> DomainEventProtocol[UUID]:
        cls = resolve_topic(topic)
        if (
            self.fast_decode
            and type(self.transcoder) is MsgspecTranscoder
            and not self.cipher
            and not self.compressor
        ):
            fast = _fast(cls)
            # Strict typed decoding accepts a subset of what the lenient convert does and gives
            # the same values for it. One seeming exception, a JSON number in a Decimal field
            # (decoded from its text here, via float there), cannot differ for bytes this
            # transcoder wrote: Decimals are written as strings, and a float as its shortest
            # repr, which is what convert turns a float into (tests/store/test_codec.py).
            try:
                typed = fast.decoder.decode(state)
            except msgspec.MsgspecError:
                pass  # the library's path decides: lenient conversion, or the error it reports
            else:
                if typed.class_version == fast.class_version:
                    event_state = msgspec.structs.asdict(typed)
                    del event_state["class_version"]
                    id_convertor = find_id_convertor(cls, cast(Hashable, type(originator_id)))
                    event_state["originator_id"] = id_convertor(originator_id)
                    event_state["originator_version"] = originator_version
                    domain_event = object.__new__(cls)
                    object.__setattr__(domain_event, "__dict__", event_state)
                    return cast(DomainEventProtocol[UUID], domain_event)
        if stored_event is None:
            stored_event = StoredEvent(
                originator_id=originator_id,
                originator_version=originator_version,
                topic=topic,
                state=state,
            )
        return self._decode_as_library(cls, stored_event)

    def _decode_as_library(self, cls: Any, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        stored_state = stored_event.state
        try:
            if self.cipher:
                stored_state = self.cipher.decrypt(stored_state)
            if self.compressor:
                stored_state = self.compressor.decompress(stored_state)
            event_state: dict[str, Any] = self.transcoder.decode(stored_state)
        except Exception as exc:
            raise MapperDeserialisationError(_failure(stored_event, exc)) from exc

        # From here to the upcasting loop: exactly what eventsourcing's Mapper does, so upcasters
        # written against the library's documentation behave the same.
        id_convertor = find_id_convertor(cls, cast(Hashable, type(stored_event.originator_id)))
        event_state["originator_id"] = id_convertor(stored_event.originator_id)
        event_state["originator_version"] = stored_event.originator_version
        class_version = getattr(cls, "class_version", 1)
        from_version = event_state.pop("class_version", 1)
        while from_version < class_version:
            getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(event_state)
            from_version += 1

        try:
            typed = msgspec.convert(event_state, type=event_schema(cls), strict=False)
        except (msgspec.ValidationError, TypeError) as exc:
            raise MapperDeserialisationError(_failure(stored_event, exc)) from exc
        # Keys the class does not declare are kept as decoded, as the library's Mapper would.
        event_state.update(msgspec.structs.asdict(typed))

        domain_event = object.__new__(cls)
        object.__setattr__(domain_event, "__dict__", event_state)
        return cast(DomainEventProtocol[UUID], domain_event)

    def to_new_event(
        self, domain_event: DomainEventProtocol[UUID], metadata: bytes = b"{}"
    ) -> NewEvent:
        """The store's input for one domain event (``metadata`` from ``encode_metadata``)."""
        stored = self.to_stored_event(domain_event)
        case_id = stored.originator_id
        if not isinstance(case_id, UUID):
            raise TypeError(f"case ids are UUIDs, not {type(case_id).__name__}")
        return NewEvent(
            case_id=case_id,
            version=stored.originator_version,
            topic=stored.topic,
            state=stored.state,
            metadata=metadata,
        )

    def from_record(self, record: RecordedEvent) -> DomainEventProtocol[UUID]:
        """The domain event of a stored record."""
        return self._domain_event(record.case_id, record.version, record.topic, record.state)


def default_mapper() -> TypedMapper:
    return TypedMapper(transcoder=MsgspecTranscoder())


def _failure(stored_event: StoredEvent, exc: Exception) -> str:
    return (
        f"Failed to deserialise state of stored event with topic '{stored_event.topic}', "
        f"originator_id '{stored_event.originator_id}' and "
        f"originator_version {stored_event.originator_version}: {exc}"
    )
