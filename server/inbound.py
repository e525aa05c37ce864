"""A WhatsApp message as Twilio posts it, parsed into a typed `InboundMessage`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import phonenumbers
from pydantic import BaseModel, ConfigDict

from tools.customers.models import SharedLocation

# fields we read into typed attributes; everything else Twilio sends is kept in `extra`
_KNOWN = {
    "MessageSid",
    "SmsMessageSid",
    "SmsSid",
    "AccountSid",
    "From",
    "To",
    "Body",
    "ProfileName",
    "WaId",
    "NumMedia",
    "ButtonPayload",
    "ButtonText",
    "Latitude",
    "Longitude",
    "Address",
    "Label",
}
_MEDIA = re.compile(r"^Media(Url|ContentType)(\d+)$")


class MalformedWebhook(ValueError):
    """The form lacks what a WhatsApp message must have; the message says what."""


MediaKind = Literal["audio", "image", "document", "other"]


def media_kind(content_type: str | None) -> MediaKind:
    """What an attachment is by its content type: "other" for video, stickers, contacts, or no type at all."""
    main = (content_type or "").split(";", 1)[0].strip().lower()
    if main.startswith("audio/"):
        return "audio"
    if main.startswith("image/") and main != "image/webp":  # WhatsApp's stickers are webp: no picture to describe
        return "image"
    if main.startswith(("application/", "text/")) and main != "text/vcard":
        return "document"
    return "other"


class Media(BaseModel):
    """An attachment: Twilio's URL for it and its content type."""

    model_config = ConfigDict(frozen=True)

    url: str
    content_type: str | None = None

    @property
    def kind(self) -> MediaKind:
        """What the attachment is, by the content type Twilio gave."""
        return media_kind(self.content_type)


class Location(BaseModel):
    """A location the customer shared."""

    model_config = ConfigDict(frozen=True)

    latitude: Decimal
    longitude: Decimal
    address: str | None = None
    label: str | None = None


class InboundMessage(BaseModel):
    """One customer message, as the queue carries it."""

    model_config = ConfigDict(frozen=True)

    message_sid: str
    account_sid: str | None = None
    from_phone: str  # E.164, "whatsapp:" removed
    to_phone: str
    body: str = ""
    profile_name: str | None = None
    wa_id: str | None = None
    media: list[Media] = []
    button_payload: str | None = None
    button_text: str | None = None
    location: Location | None = None
    extra: dict[str, str] = {}

    def text(self) -> str:
        """What the conversation reads: the words, a tapped button, a shared location. Media are never words here
        (a "[audio/ogg]" marker was once saved as an address): the worker reads or names them (server/media_in.py)."""
        parts = [self.body.strip()] if self.body.strip() else []
        if self.button_text or self.button_payload:
            parts.append(self.button_text or self.button_payload or "")
        if self.location is not None:
            # the map's words only: coordinates travel as numbers (pin()), or "-23.56" became a neighbourhood
            if where := ", ".join(p for p in (self.location.label, self.location.address) if p):
                parts.append(where)
        return "\n".join(parts)

    def pin(self) -> SharedLocation | None:
        """The shared location as the tools take it (validated coordinates and the map's words), if any."""
        if self.location is None:
            return None
        return SharedLocation(
            latitude=float(self.location.latitude),
            longitude=float(self.location.longitude),
            address=self.location.address,
            label=self.location.label,
        )


def e164(value: str, field: str) -> str:
    """`whatsapp:+5511…` (or a bare number) → `+5511…`; MalformedWebhook naming the field otherwise."""
    raw = value.removeprefix("whatsapp:").strip()
    try:
        parsed = phonenumbers.parse(raw if raw.startswith("+") else f"+{raw}", None)
    except phonenumbers.NumberParseException as exc:
        raise MalformedWebhook(f"{field} is not a phone number: {value!r}") from exc
    if not phonenumbers.is_possible_number(parsed):
        raise MalformedWebhook(f"{field} is not a phone number: {value!r}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def parse_inbound(form: Mapping[str, Any]) -> InboundMessage:
    """Twilio's form fields → InboundMessage; MalformedWebhook says which field is missing or wrong."""
    # Postgres text can't hold NUL: a tool that stores the customer's words ("meu nome é Ana\0") fails on it and
    # the customer hears "tive um probleminha" instead of an answer, so the character goes and the message stays
    form = {_no_nul(k): _no_nul(v) if isinstance(v, str) else v for k, v in form.items()}
    sid = str(form.get("MessageSid") or form.get("SmsMessageSid") or "").strip()
    if not sid:
        raise MalformedWebhook("MessageSid is missing")
    for field in ("From", "To"):
        if not str(form.get(field) or "").strip():
            raise MalformedWebhook(f"{field} is missing")
    return InboundMessage(
        message_sid=sid,
        account_sid=_opt(form, "AccountSid"),
        from_phone=e164(str(form["From"]), "From"),
        to_phone=e164(str(form["To"]), "To"),
        body=str(form.get("Body") or ""),
        profile_name=_opt(form, "ProfileName"),
        wa_id=_opt(form, "WaId"),
        media=_media(form),
        button_payload=_opt(form, "ButtonPayload"),
        button_text=_opt(form, "ButtonText"),
        location=_location(form),
        extra={k: str(v) for k, v in form.items() if k not in _KNOWN and not _MEDIA.match(k)},
    )


def _no_nul(text: str) -> str:
    return text.replace("\x00", "")


def _opt(form: Mapping[str, Any], key: str) -> str | None:
    value = form.get(key)
    return str(value) if value not in (None, "") else None


def _media(form: Mapping[str, Any]) -> list[Media]:
    try:
        count = int(form.get("NumMedia") or 0)
    except ValueError as exc:
        raise MalformedWebhook(f"NumMedia is not a number: {form.get('NumMedia')!r}") from exc
    media = []
    for i in range(count):
        url = _opt(form, f"MediaUrl{i}")
        if url is None:
            raise MalformedWebhook(f"NumMedia is {count} but MediaUrl{i} is missing")
        media.append(Media(url=url, content_type=_opt(form, f"MediaContentType{i}")))
    return media


def _location(form: Mapping[str, Any]) -> Location | None:
    lat, lon = _opt(form, "Latitude"), _opt(form, "Longitude")
    if lat is None and lon is None:
        return None
    try:
        latitude, longitude = Decimal(lat or ""), Decimal(lon or "")
    except InvalidOperation as exc:
        raise MalformedWebhook(f"Latitude/Longitude are not a location: {lat!r}, {lon!r}") from exc
    # Decimal takes "NaN" and "sNaN", and comparing them raises InvalidOperation: refuse them before the range
    if not (latitude.is_finite() and longitude.is_finite()):
        raise MalformedWebhook(f"Latitude/Longitude are not a location: {lat!r}, {lon!r}")
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise MalformedWebhook(f"Latitude/Longitude out of range: {lat}, {lon}")
    return Location(latitude=latitude, longitude=longitude, address=_opt(form, "Address"), label=_opt(form, "Label"))
