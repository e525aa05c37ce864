"""`comanda chat`: talk to a running server as a WhatsApp customer, through the same signed webhook Twilio uses."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from redis.asyncio import Redis
from rich.console import Console
from rich.markup import escape
from twilio.request_validator import RequestValidator

from memory.db import Pool
from memory.repos import outbound
from memory.repos.outbound import OutboundMessage
from memory.repos.tenants import Tenant
from server.queue import conversation_key, stream_entries
from server.turns import TurnTrace, farewell_key, trace_key


class ServerNotRunning(RuntimeError):
    """Nothing answers at the server's address."""


@dataclass
class ChatSession:
    """One customer phone talking to one tenant through a running server."""

    server_url: str
    public_base_url: str
    auth_token: str
    tenant: Tenant
    phone: str
    pool: Pool
    redis: Redis
    prefix: str = "comanda"
    profile_name: str = "Chat"
    http: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(timeout=10))
    _last_outbound: int = 0
    _last_trace: str = "0-0"

    @property
    def conv(self) -> str:
        """The conversation's queue key (and thread id)."""
        return conversation_key(self.tenant.id, self.phone)

    async def start(self) -> None:
        """Check the server is up and skip what was said before this session."""
        try:
            await self.http.get(f"{self.server_url}/healthz")
        except httpx.HTTPError as exc:
            raise ServerNotRunning(self.server_url) from exc
        async with self.pool.connection() as conn:
            earlier = await outbound.list_for_phone(conn, self.tenant.id, self.phone, limit=100_000)
        self._last_outbound = earlier[-1].id if earlier else 0
        last = stream_entries(await self.redis.xrevrange(trace_key(self.prefix, self.conv), count=1))
        self._last_trace = last[0][0] if last else "0-0"

    async def send(self, text: str) -> str:
        """Post a signed WhatsApp webhook carrying `text`; returns its MessageSid."""
        sid = "SM" + uuid.uuid4().hex
        form = {
            "MessageSid": sid,
            "SmsMessageSid": sid,
            "AccountSid": "AC" + "0" * 32,
            "From": f"whatsapp:{self.phone}",
            "To": f"whatsapp:{self.tenant.whatsapp}",
            "Body": text,
            "NumMedia": "0",
            "ProfileName": self.profile_name,
            "WaId": self.phone.lstrip("+"),
        }
        path = "/twilio/whatsapp"
        signature = RequestValidator(self.auth_token).compute_signature(self.public_base_url.rstrip("/") + path, form)
        response = await self.http.post(
            f"{self.server_url}{path}", data=form, headers={"X-Twilio-Signature": signature}
        )
        if response.status_code != 200:
            raise RuntimeError(f"the server refused the message: HTTP {response.status_code} {response.text}")
        return sid

    async def wait_turn(self, sid: str, timeout_s: float) -> TurnTrace | None:
        """The trace of the turn that handled `sid`, once the worker finished it (None on timeout)."""
        deadline = time.monotonic() + timeout_s
        key = trace_key(self.prefix, self.conv)
        while time.monotonic() < deadline:
            for entry_id, fields in stream_entries(await self.redis.xrange(key, min=f"({self._last_trace}")):
                self._last_trace = entry_id
                trace = TurnTrace.model_validate_json(fields["trace"])
                if sid in trace.message_sids:
                    return trace
            # a turn that erased the customer publishes no trace and its reply rows are gone: it leaves the
            # replies under the message's id instead (ConversationTurns._farewell); read once, then dropped
            if farewell := await self.redis.getdel(farewell_key(self.prefix, sid)):
                return TurnTrace.model_validate_json(farewell)
            await asyncio.sleep(0.05)
        return None

    async def new_messages(self) -> list[OutboundMessage]:
        """Messages sent to this customer since the last call (bot replies, agent replies, notifications)."""
        async with self.pool.connection() as conn:
            rows = await outbound.list_for_phone(conn, self.tenant.id, self.phone, after_id=self._last_outbound)
        if rows:
            self._last_outbound = rows[-1].id
        return rows

    async def close(self) -> None:
        """Close the HTTP client."""
        await self.http.aclose()


def print_messages(console: Console, messages: list[OutboundMessage]) -> None:
    """The bot's side of the transcript."""
    for m in messages:
        who = {"agent": "agent", "notification": "bot (notification)"}.get(m.kind, "bot")
        console.print(f"[bold cyan]< {who}:[/] {escape(m.body)}")
        if m.media_url:
            console.print(f"  [dim]media: {escape(m.media_url)}[/]")


def print_erased(console: Console, trace: TurnTrace) -> None:
    """The replies of a turn that erased the customer: the sweep took their rows, the turn handed them over."""
    if trace.erased:
        for reply in [*trace.resent, *trace.replies]:
            console.print(f"[bold cyan]< bot:[/] {escape(reply)}")


def print_trace(console: Console, trace: TurnTrace) -> None:
    """Route, tool calls and model calls of a turn, for prompt engineers."""
    if trace.erased:
        console.print("  [dim]· the customer's data was erased: this turn kept no trace[/]")
        return
    if trace.paused:
        console.print("  [yellow]· a human agent has this conversation: the bot stayed silent[/]")
        return
    if trace.duplicate:
        console.print("  [dim]· duplicate delivery: nothing new ran[/]")
    for note in trace.media:
        # a voice note's words are the turn's text: say they were heard, not typed, and why one wasn't
        why = f" ({note.detail})" if note.detail else ""
        console.print(f"  [cyan]· media[/] {note.kind} {escape(note.content_type or '?')}: {note.outcome}{escape(why)}")
    if trace.media and any(trace.texts):
        console.print(f"  [dim]  read as: {escape(' | '.join(t for t in trace.texts if t))}[/]")
    if trace.route:
        how = f"{trace.decided_by}, confidence {trace.confidence:.2f}" if trace.confidence is not None else "?"
        console.print(
            f"  [magenta]· route[/] {trace.route} ({how}){' — ' + escape(trace.reason) if trace.reason else ''}"
        )
    for call in trace.tool_calls:
        args = json.dumps(call["args"], ensure_ascii=False)
        console.print(f"  [green]· tool[/] {call['name']}({escape(args)}) [dim]in {call['node']}[/]")
        console.print(f"    [dim]→ {escape(str(call['result']))}[/]")
    for model_call in trace.model_calls:
        console.print(
            f"  [blue]· model[/] {model_call['node']}: {model_call['tokens_in']} tokens in, "
            f"{model_call['tokens_out']} out"
        )
    console.print(f"  [dim]· {trace.elapsed_ms:.0f} ms in the graph[/]")


async def run_script(session: ChatSession, lines: list[str], *, console: Console, trace: bool, timeout_s: float) -> int:
    """Send each line, wait for its turn, print the transcript; 1 if a reply didn't come in time."""
    for line in lines:
        console.print(f"[bold]> {escape(line)}[/]")
        sid = await session.send(line)
        done = await session.wait_turn(sid, timeout_s)
        if done is None:
            console.print(f"[bold red]no reply within {timeout_s:.0f} s[/] (is a worker running?)")
            return 1
        print_messages(console, await session.new_messages())
        print_erased(console, done)
        if trace:
            print_trace(console, done)
    return 0


async def run_interactive(session: ChatSession, *, console: Console, trace: bool, timeout_s: float) -> int:
    """A read-send-print loop until EOF or /quit; messages sent meanwhile (an agent's) show up as they arrive."""
    console.print(f"Chatting with [bold]{escape(session.tenant.name)}[/] as {session.phone}. /quit or Ctrl-D to leave.")
    printing = asyncio.Lock()  # the watcher and the turn print in turn, never interleaved

    async def watch() -> None:
        while True:
            await asyncio.sleep(0.5)
            async with printing:
                print_messages(console, await session.new_messages())

    watcher = asyncio.create_task(watch())
    try:
        while True:
            try:
                line = await asyncio.to_thread(input, "> ")
            except EOFError:
                return 0
            if line.strip() in ("/quit", "/exit"):
                return 0
            async with printing:
                sid = await session.send(line)
                done = await session.wait_turn(sid, timeout_s)
                print_messages(console, await session.new_messages())
                if done is None:
                    console.print(f"[yellow]no reply within {timeout_s:.0f} s[/]")
                else:
                    print_erased(console, done)
                    if trace:
                        print_trace(console, done)
    finally:
        watcher.cancel()


def script_lines(path: Path) -> list[str]:
    """One customer message per line; blank lines and `#` comments are skipped."""
    return [ln.rstrip("\n") for ln in path.read_text().splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
