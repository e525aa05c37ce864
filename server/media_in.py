"""Media customers send (voice notes, images, documents), read in the worker, off the webhook's path.

A voice note is fetched from Twilio's MediaUrl with the account's credentials and transcribed when a provider is
configured (`COMANDA_TRANSCRIBE=openai:<model>`); its transcription is then the customer's message. Everything else,
and every voice note we couldn't hear, is named to the guard (graph/guard.py), which asks for text: a placeholder
never becomes words a tool could save.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict

from graph.guard import UnreadMedia
from graph.runner import CustomerMessage
from server.inbound import InboundMessage, Media, MediaKind, media_kind

if TYPE_CHECKING:
    from openai import AsyncOpenAI

log = logging.getLogger("comanda.media_in")

# OpenAI's upload limit for transcriptions (WhatsApp's own limit for audio is 16 MB)
MAX_MEDIA_BYTES = 25 * 1024 * 1024
# the provider infers the format from the file name: WhatsApp's voice notes are audio/ogg (opus)
_EXTENSIONS = {"audio/ogg": ".ogg", "audio/mpeg": ".mp3", "audio/mp4": ".m4a", "audio/aac": ".m4a"}

MediaOutcome = Literal[
    "transcribed",
    "no_provider",
    "not_read",
    "fetch_failed",
    "too_large",
    "timeout",
    "transcribe_failed",
    "inaudible",
    "read_before",  # a replayed message: what the first run read was taken from the checkpoint
]


class MediaNote(BaseModel):
    """What became of one attachment: the turn's trace shows it."""

    model_config = ConfigDict(frozen=True)

    kind: MediaKind
    content_type: str | None = None
    outcome: MediaOutcome
    detail: str | None = None  # why it failed (an HTTP status, the provider's error type)


class Transcriber(Protocol):
    """Speech to text."""

    async def transcribe(self, audio: bytes, content_type: str) -> str:
        """The words spoken in `audio`."""
        ...


class OpenAITranscriber:
    """OpenAI's (or a compatible server's) `/audio/transcriptions`, through the official client."""

    def __init__(self, model: str, *, api_key: str, base_url: str | None, timeout_s: float) -> None:
        from openai import AsyncOpenAI  # deferred: only a configured provider pays for importing it

        self.model = model
        # no retries: the reader's time budget is the customer's wait, and a failure asks them to type instead
        self.client: AsyncOpenAI = AsyncOpenAI(api_key=api_key, base_url=base_url, timeout=timeout_s, max_retries=0)

    async def transcribe(self, audio: bytes, content_type: str) -> str:
        """The transcription's text."""
        main = content_type.split(";", 1)[0].strip().lower()
        name = "voice" + (_EXTENSIONS.get(main) or mimetypes.guess_extension(main) or ".ogg")
        result = await self.client.audio.transcriptions.create(model=self.model, file=(name, audio, main))
        return result.text.strip()


class _Unheard(Exception):
    def __init__(self, outcome: MediaOutcome, detail: str | None = None) -> None:
        super().__init__(outcome, detail)
        self.outcome: MediaOutcome = outcome
        self.detail = detail


@dataclass
class MediaReader:
    """Turns an inbound message into what the conversation reads: its words, transcriptions, unread media."""

    transcriber: Transcriber | None = None
    auth: tuple[str, str] | None = None  # Twilio's AccountSid and AuthToken (MediaUrls ask for them by default)
    timeout_s: float = 20.0  # for fetching and transcribing one voice note, together
    # where else media may be fetched from with those credentials: COMANDA_TWILIO_API_BASE_URL (a test double)
    api_base_url: str | None = None

    async def read(self, message: InboundMessage) -> tuple[CustomerMessage, list[MediaNote]]:
        """The message as the conversation reads it, and what became of each attachment."""
        if not message.media:
            return CustomerMessage(text=message.text()), []
        read = await asyncio.gather(*(self._one(media, message.message_sid) for media in message.media))
        heard = [text for text, _ in read if text]
        notes = [note for _, note in read]
        unread = [_unread(note) for note in notes if note.outcome != "transcribed"]
        text = "\n".join(part for part in (message.text(), *heard) if part)
        return CustomerMessage(text=text, unread=unread, transcribed=bool(heard)), notes

    def calls_out(self, message: InboundMessage) -> bool:
        """Whether reading the message would fetch and transcribe something: seconds and a paid call."""
        return any(self._fetches(media) for media in message.media)

    def _fetches(self, media: Media) -> bool:
        # only a voice note, or a file we can't tell from its content type, is worth fetching (not a video)
        return self.transcriber is not None and (media.kind == "audio" or media.content_type is None)

    async def _one(self, media: Media, sid: str) -> tuple[str | None, MediaNote]:
        kind = media.kind
        if not self._fetches(media):
            outcome: MediaOutcome = "no_provider" if kind == "audio" else "not_read"
            return None, MediaNote(kind=kind, content_type=media.content_type, outcome=outcome)
        content_type = media.content_type
        if not self._twilios(media.url):
            # the account's credentials go with the request: never to a host that isn't Twilio's
            log.warning("voice note %s: its MediaUrl is not on Twilio's API; not fetched", sid)
            return None, MediaNote(kind=kind, content_type=content_type, outcome="fetch_failed", detail="not Twilio")
        try:
            async with asyncio.timeout(self.timeout_s):
                # no content type given: the media server's answer says what it is
                audio, content_type = await self._fetch(media.url, content_type)
                kind = media_kind(content_type)
                if kind != "audio":
                    return None, MediaNote(kind=kind, content_type=content_type, outcome="not_read")
                text = await self._transcribe(audio, content_type or "audio/ogg")
        except TimeoutError:
            log.warning("voice note %s: not heard within %.0f s", sid, self.timeout_s)
            return None, MediaNote(kind="audio", content_type=content_type, outcome="timeout")
        except _Unheard as exc:
            log.warning("voice note %s: %s (%s)", sid, exc.outcome, exc.detail)
            return None, MediaNote(kind="audio", content_type=content_type, outcome=exc.outcome, detail=exc.detail)
        return text, MediaNote(kind="audio", content_type=content_type, outcome="transcribed")

    def _twilios(self, url: str) -> bool:
        """Whether a MediaUrl is on Twilio's API (any region's https host), or on the configured test double."""
        if self.api_base_url and url.startswith(self.api_base_url.rstrip("/") + "/"):
            return True
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        return parts.scheme == "https" and (host == "twilio.com" or host.endswith(".twilio.com"))

    async def _fetch(self, url: str, content_type: str | None) -> tuple[bytes, str | None]:
        # Twilio's MediaUrl answers with a redirect to the file's storage; httpx drops the credentials on the way
        auth = httpx.BasicAuth(*self.auth) if self.auth else None
        try:
            async with (
                httpx.AsyncClient(follow_redirects=True, timeout=self.timeout_s) as http,
                http.stream("GET", url, auth=auth) as response,
            ):
                if response.status_code != 200:
                    raise _Unheard("fetch_failed", f"HTTP {response.status_code}")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_MEDIA_BYTES:
                        raise _Unheard("too_large", f"over {MAX_MEDIA_BYTES} bytes")
                return bytes(body), content_type or response.headers.get("content-type")
        except httpx.TimeoutException:
            raise TimeoutError from None
        except httpx.HTTPError as exc:
            raise _Unheard("fetch_failed", type(exc).__name__) from None

    async def _transcribe(self, audio: bytes, content_type: str) -> str:
        import openai  # deferred with the provider: its errors are what a transcriber raises

        assert self.transcriber is not None
        try:
            text = await self.transcriber.transcribe(audio, content_type)
        except openai.APITimeoutError:
            raise TimeoutError from None
        except openai.APIError as exc:
            raise _Unheard("transcribe_failed", type(exc).__name__) from None
        if not text:
            raise _Unheard("inaudible", "empty transcription")
        return text


def read_before(message: InboundMessage) -> list[MediaNote]:
    """The trace's notes for a message taken as an earlier run of its turn read it (MediaReader.calls_out)."""
    return [MediaNote(kind=m.kind, content_type=m.content_type, outcome="read_before") for m in message.media]


def _unread(note: MediaNote) -> UnreadMedia:
    if note.kind == "audio":
        return "audio" if note.outcome == "no_provider" else "audio_failed"
    return note.kind
