"""Voice notes, images and documents (issue 14): webhook → queue → worker (fetch from Twilio, transcribe) → graph,
against loopback fakes of Twilio's media and OpenAI's transcriptions, with real Redis, Postgres and HTTP."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator

import httpx
import pytest
from channel_support import (
    CUSTOMER,
    demo_tenant,
    post_signed,
    replies_to,
    running_worker,
    twilio_form,
    wait_traces,
    webhook_app,
)
from conftest import DEMO_MENU
from console_support import console_stack, wait_for
from conversation_support import open_chat
from fakes.openai_audio import FakeTranscriptions, fake_transcriptions
from fakes.twilio_api import FakeTwilio, fake_twilio
from redis.asyncio import Redis
from rich.console import Console
from support import live_server

from comanda.chat import print_trace
from comanda.settings import Settings
from comanda.wiring import media_reader
from graph.runner import CustomerMessage
from memory.db import Pool
from memory.embeddings import Embedder
from memory.repos import handoffs as handoff_repo
from prompts import load_prompt_set
from server.inbound import InboundMessage, parse_inbound
from server.media_in import MediaReader
from server.queue import InboundQueue, QueueSettings, conversation_key
from tools.menu.importer import import_menu
from tools.menu.menu_file import parse_json

FAST = QueueSettings(coalesce_window_ms=0, reclaim_idle_ms=1500, lock_ttl_ms=1500, max_attempts=2)
PROMPTS = load_prompt_set()
Api = tuple[httpx.AsyncClient, str]
Twilio = tuple[FakeTwilio, str]
Stt = tuple[FakeTranscriptions, str]
VOICE = b"OggS\x00\x02fake-opus-voice-note"


def said(key: str, locale: str = "pt-BR") -> str:
    return PROMPTS.reply(key, locale)


@pytest.fixture
async def demo(db: Pool, embedder: Embedder) -> Pool:
    await import_menu(db, "demo", parse_json(DEMO_MENU.read_text()), embedder)
    return db


@pytest.fixture
async def api(demo: Pool, redis: Redis) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    async with live_server(webhook_app(demo, redis)) as base, httpx.AsyncClient() as http:
        yield http, base


@pytest.fixture
async def twilio() -> AsyncIterator[tuple[FakeTwilio, str]]:
    async with fake_twilio() as served:
        yield served


@pytest.fixture
async def stt() -> AsyncIterator[tuple[FakeTranscriptions, str]]:
    async with fake_transcriptions() as served:
        yield served


def reader(twilio: Twilio, stt: Stt, timeout_s: float = 10) -> MediaReader:
    """The reader `comanda worker` builds from these settings (Twilio's API pointed at the fake, as in production
    it would be at api.twilio.com)."""
    fake_twilio_, twilio_base = twilio
    fake_stt, stt_base = stt
    settings = Settings(
        transcribe="openai:whisper-1",
        transcribe_base_url=stt_base,
        transcribe_timeout_s=timeout_s,
        openai_api_key=fake_stt.api_key,
        twilio_account_sid=fake_twilio_.account_sid,
        twilio_auth_token=fake_twilio_.auth_token,
        twilio_api_base_url=twilio_base,
    )
    return media_reader(settings)


async def test_a_media_url_off_twilios_api_is_never_fetched_with_the_accounts_credentials(
    twilio: Twilio, stt: Stt
) -> None:
    # a MediaUrl is fetched with the account's SID and token: sent anywhere else, they would leak. The other
    # server knows the same account, so a fetch would succeed and show in its media_fetches
    async with fake_twilio(FakeTwilio(media={"ME10": (VOICE, "audio/ogg")})) as (elsewhere, elsewhere_base):
        url = elsewhere.media_url(elsewhere_base, "ME10")
        heard, notes = await reader(twilio, stt).read(_inbound(url, "audio/ogg"))
        assert elsewhere.media_fetches == []
    assert heard == CustomerMessage(unread=["audio_failed"])
    assert [(n.outcome, n.detail) for n in notes] == [("fetch_failed", "not Twilio")]
    assert not MediaReader()._twilios("http://api.twilio.com/2010-04-01/x")  # not over plain http either
    assert MediaReader()._twilios("https://api.dublin.ie1.twilio.com/2010-04-01/x")  # another region's API


def media_form(url: str, content_type: str | None, body: str = "") -> dict[str, str]:
    """What Twilio posts for a message with one attachment (a voice note has no body)."""
    fields = {"NumMedia": "1", "MediaUrl0": url}
    if content_type is not None:
        fields["MediaContentType0"] = content_type
    return twilio_form(body, **fields)


async def conv(pool: Pool) -> str:
    return conversation_key((await demo_tenant(pool)).id, CUSTOMER)


async def test_a_voice_note_is_fetched_with_the_account_credentials_transcribed_and_drives_the_order(
    api: Api, demo: Pool, redis: Redis, twilio: Twilio, stt: Stt
) -> None:
    http, base = api
    (fake_tw, tw_base), (fake_stt, _) = twilio, stt
    fake_tw.media["ME01"] = (VOICE, "audio/ogg")
    fake_stt.transcripts[VOICE] = "quero 2 coca lata"
    async with running_worker(demo, redis, FAST, reader=reader(twilio, stt)):
        assert (await post_signed(http, base, media_form(fake_tw.media_url(tw_base, "ME01"), "audio/ogg"))).is_success
        [trace] = await wait_traces(redis, await conv(demo), 1)
    # the trace (comanda chat --trace) shows what the customer said, and that it was a transcribed voice note
    assert trace.texts == ["quero 2 coca lata"]
    assert [(n.kind, n.outcome) for n in trace.media] == [("audio", "transcribed")]
    shown = io.StringIO()
    print_trace(Console(file=shown, width=200), trace)  # what `comanda chat --trace` prints
    assert "· media audio audio/ogg: transcribed" in shown.getvalue()
    assert "read as: quero 2 coca lata" in shown.getvalue()
    assert fake_tw.media_fetches == ["ME01"]  # with the account's credentials, through Twilio's redirect
    assert fake_stt.seen == [
        {"model": "whisper-1", "filename": "voice.ogg", "content_type": "audio/ogg", "size": len(VOICE)}
    ]
    [add] = [c for c in trace.tool_calls if c["name"] == "add_to_cart"]
    assert "Coca-Cola lata" in add["result"]
    assert "Coca-Cola lata" in "\n".join(await replies_to(demo))


async def test_a_replayed_voice_note_is_not_fetched_nor_transcribed_again(
    api: Api, demo: Pool, redis: Redis, twilio: Twilio, stt: Stt
) -> None:
    http, base = api
    (fake_tw, tw_base), (fake_stt, _) = twilio, stt
    fake_tw.media["ME05"] = (VOICE, "audio/ogg")
    fake_stt.transcripts[VOICE] = "quero 2 coca lata"
    form = media_form(fake_tw.media_url(tw_base, "ME05"), "audio/ogg")
    async with running_worker(demo, redis, FAST, reader=reader(twilio, stt)) as worker:
        assert (await post_signed(http, base, form)).is_success
        [first] = await wait_traces(redis, await conv(demo), 1)
        # a provider asked again may hear other words: a replay must answer what the first run heard
        fake_stt.transcripts[VOICE] = "quero 3 x-salada"
        # the same MessageSid queued again, as a reclaim after a worker died would find it (the dedupe key is past)
        await worker.queue.redis.delete(f"comanda:seen:{form['MessageSid']}")
        assert (await post_signed(http, base, form)).is_success
        _, second = await wait_traces(redis, await conv(demo), 2)
    assert len(fake_stt.seen) == 1 and fake_tw.media_fetches == ["ME05"]  # one paid call for two runs
    assert first.texts == second.texts == ["quero 2 coca lata"]
    assert second.duplicate and second.resent == first.replies
    assert [(n.kind, n.outcome) for n in second.media] == [("audio", "read_before")]
    assert await replies_to(demo) == first.replies


async def test_staff_see_a_voice_notes_transcription_marked_in_the_console_conversation(
    demo: Pool, redis: Redis, twilio: Twilio, stt: Stt
) -> None:
    (fake_tw, tw_base), (fake_stt, _) = twilio, stt
    fake_tw.media["ME02"] = (VOICE, "audio/ogg")
    fake_stt.transcripts[VOICE] = "quero falar com um atendente"

    async def ticket() -> int | None:
        async with demo.connection() as conn:
            found = await handoff_repo.list_tickets(conn, stack.demo.id)
        return found[0].id if found else None

    async with console_stack(demo, redis, reader=reader(twilio, stt)) as stack:
        agent = await stack.staff(stack.demo, "Ana")
        async with httpx.AsyncClient() as http:
            await post_signed(http, stack.base, twilio_form("oi"))
            await wait_for(lambda: replies_to(demo))
            await post_signed(http, stack.base, media_form(fake_tw.media_url(tw_base, "ME02"), "audio/ogg"))
        ticket_id = await wait_for(ticket)
        async with stack.client(agent) as http:
            page = await http.get(f"/console/tickets/{ticket_id}/conversation")
    assert page.status_code == 200
    assert "🎤 áudio transcrito:</span> quero falar com um atendente" in page.text
    assert page.text.count("áudio transcrito") == 1  # the typed "oi" is not marked


async def test_without_a_provider_a_voice_note_gets_a_kind_answer_and_nothing_runs(
    api: Api, demo: Pool, redis: Redis
) -> None:
    http, base = api
    async with running_worker(demo, redis, FAST):  # the default reader: no transcription provider
        form = media_form("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1", "audio/ogg")
        assert (await post_signed(http, base, form)).is_success
        [trace] = await wait_traces(redis, await conv(demo), 1)
    assert await replies_to(demo) == [said("media.audio_unavailable")]
    assert trace.texts == [""]  # no "[audio/ogg]" a tool could take for words
    assert [(n.kind, n.outcome) for n in trace.media] == [("audio", "no_provider")]
    assert trace.route is None and trace.tool_calls == [] and trace.model_calls == []  # the guard answered


async def test_a_voice_note_while_the_bot_waits_for_the_address_is_never_saved_as_one(demo: Pool) -> None:
    chat = await open_chat(demo, CUSTOMER)
    await chat.say("oi")
    assert "endereço" in (await chat.say("Maria Souza")).lower(), chat.dump()
    # what a WhatsApp voice note becomes once read without a transcription provider
    voice, _ = await MediaReader().read(_inbound("https://api.twilio.com/x/Media/ME6", "audio/ogg"))
    result = await chat.runner.run_turn(chat.ctx, [voice], ["SMvoice"])
    assert result.replies == [said("media.audio_unavailable")]
    assert result.tool_calls == []
    assert result.state is not None and result.state.awaiting == "registration.address"  # still asking for it
    async with demo.connection() as conn:
        cur = await conn.execute("SELECT count(*) AS n FROM addresses")
        assert (await cur.fetchone() or {})["n"] == 0
    # and the typed address that follows is taken as before
    assert "e-mail" in (await chat.say("Rua das Flores, 123, Apto 45, Jardim Primavera")).lower(), chat.dump()


async def test_twilio_media_404_asks_the_customer_to_type_and_the_conversation_goes_on(
    api: Api, demo: Pool, redis: Redis, twilio: Twilio, stt: Stt
) -> None:
    http, base = api
    fake_tw, tw_base = twilio
    async with running_worker(demo, redis, FAST, reader=reader(twilio, stt)):
        await post_signed(http, base, media_form(fake_tw.media_url(tw_base, "MEgone"), "audio/ogg"))
        [trace] = await wait_traces(redis, await conv(demo), 1)
        await post_signed(http, base, twilio_form("quero 2 coca lata"))
        _, typed = await wait_traces(redis, await conv(demo), 2)
    assert [(n.outcome, n.detail) for n in trace.media] == [("fetch_failed", "HTTP 404")]
    replies = await replies_to(demo)
    assert replies[0] == said("media.audio_failed")
    assert any(c["name"] == "add_to_cart" for c in typed.tool_calls)
    assert await InboundQueue(redis, FAST).dead_letters() == []


async def test_a_transcription_provider_that_times_out_asks_the_customer_to_type(
    api: Api, demo: Pool, redis: Redis, twilio: Twilio, stt: Stt
) -> None:
    http, base = api
    (fake_tw, tw_base), (fake_stt, _) = twilio, stt
    fake_tw.media["ME03"] = (VOICE, "audio/ogg")
    fake_stt.transcripts[VOICE] = "quero 2 coca lata"
    fake_stt.delay_s = 3.0
    async with running_worker(demo, redis, FAST, reader=reader(twilio, stt, timeout_s=0.5)):
        sent = asyncio.get_running_loop().time()
        response = await post_signed(http, base, media_form(fake_tw.media_url(tw_base, "ME03"), "audio/ogg"))
        answered = asyncio.get_running_loop().time() - sent
        [trace] = await wait_traces(redis, await conv(demo), 1)
        took = asyncio.get_running_loop().time() - sent
    assert response.is_success and answered < 1.0  # the webhook never waits for the media
    assert took < 2.5, took  # the reader's budget, not the provider's 3 s
    assert [n.outcome for n in trace.media] == ["timeout"]
    assert await replies_to(demo) == [said("media.audio_failed")]
    assert await InboundQueue(redis, FAST).dead_letters() == []


async def test_media_twilio_gives_no_content_type_for_is_read_by_what_the_file_is(
    api: Api, demo: Pool, redis: Redis, twilio: Twilio, stt: Stt
) -> None:
    http, base = api
    (fake_tw, tw_base), (fake_stt, _) = twilio, stt
    fake_tw.media["ME04"] = (VOICE, "audio/ogg")
    fake_tw.media["ME05"] = (b"\x00\x01 who knows", None)
    fake_stt.transcripts[VOICE] = "quero 2 coca lata"
    async with running_worker(demo, redis, FAST, reader=reader(twilio, stt)):
        await post_signed(http, base, media_form(fake_tw.media_url(tw_base, "ME04"), None))
        [voice] = await wait_traces(redis, await conv(demo), 1)
        await post_signed(http, base, media_form(fake_tw.media_url(tw_base, "ME05"), None))
        _, unknown = await wait_traces(redis, await conv(demo), 2)
    assert voice.texts == ["quero 2 coca lata"]
    assert [(n.kind, n.content_type, n.outcome) for n in voice.media] == [("audio", "audio/ogg", "transcribed")]
    assert [(n.kind, n.outcome) for n in unknown.media] == [("other", "not_read")]
    assert (await replies_to(demo))[-1] == said("media.other")
    # a file whose content type says it isn't a voice note is never downloaded
    fake_tw.media["ME06"] = (b"\x00\x00\x00\x18ftypmp42", "video/mp4")
    video, notes = await reader(twilio, stt).read(_inbound(fake_tw.media_url(tw_base, "ME06"), "video/mp4"))
    assert video == CustomerMessage(unread=["other"]) and [n.outcome for n in notes] == ["not_read"]
    assert fake_tw.media_fetches == ["ME04", "ME05"]


async def test_media_with_no_content_type_and_no_provider_gets_a_sensible_answer(demo: Pool) -> None:
    message, notes = await MediaReader().read(_inbound("https://api.twilio.com/x/Media/ME9", None))
    assert message == CustomerMessage(unread=["other"])
    assert [n.outcome for n in notes] == ["not_read"]
    chat = await open_chat(demo, CUSTOMER)
    result = await chat.runner.run_turn(chat.ctx, [message], ["SMnotype"])
    assert result.replies == [said("media.other")]


async def test_an_image_alone_is_answered_and_its_caption_counts_as_text(demo: Pool) -> None:
    chat = await open_chat(demo, CUSTOMER)
    await chat.say("oi")
    image, _ = await MediaReader().read(_inbound("https://api.twilio.com/x/Media/ME7", "image/jpeg"))
    result = await chat.runner.run_turn(chat.ctx, [image], ["SMimage"])
    assert result.replies == [said("media.image")]
    document, _ = await MediaReader().read(_inbound("https://api.twilio.com/x/Media/ME8", "application/pdf"))
    result = await chat.runner.run_turn(chat.ctx, [document], ["SMdoc"])
    assert result.replies == [said("media.document")]
    captioned, _ = await MediaReader().read(
        _inbound("https://api.twilio.com/x/Media/ME9", "image/jpeg", body="quero 2 coca lata")
    )
    result = await chat.runner.run_turn(chat.ctx, [captioned], ["SMcaption"])
    assert any(c.name == "add_to_cart" for c in result.tool_calls), result.replies


async def test_an_english_conversation_hears_the_media_answer_in_english(demo: Pool) -> None:
    chat = await open_chat(demo, CUSTOMER)
    await chat.say("hello, I would like to see the menu please")
    result = await chat.runner.run_turn(chat.ctx, [CustomerMessage(unread=["audio"])], ["SMvoice-en"])
    assert result.replies == [said("media.audio_unavailable", "en")]


def _inbound(url: str, content_type: str | None, body: str = "") -> InboundMessage:
    return parse_inbound(media_form(url, content_type, body))
