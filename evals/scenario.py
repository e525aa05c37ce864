"""Scenario files: pydantic models and a loader whose errors name the file and the field."""

from __future__ import annotations

import fnmatch
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from graph.guard import UnreadMedia
from graph.state import INTENTS

SCENARIOS_DIR = Path(__file__).parent / "scenarios"

# Fridays at 20:00 and Mondays at 20:00 in São Paulo: the demo restaurant is open on the first, closed on the second
OPEN_CLOCK = datetime(2026, 11, 20, 23, 0, tzinfo=UTC)
CLOSED_CLOCK = datetime(2026, 11, 23, 23, 0, tzinfo=UTC)

# "none": the turn never reached the router (the input guard answered, or a human agent has the conversation)
RouteLabel = Literal["menu", "cart", "registration", "payment", "handoff", "smalltalk", "none"]
ROUTE_LABELS: tuple[str, ...] = (*INTENTS, "none")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExpectedCall(_Strict):
    """A tool call: its name and, optionally, arguments that must be present with these values."""

    name: str
    args: dict[str, Any] = {}


class ToolExpectation(_Strict):
    """The tool calls of a turn and how to compare them (as openevals' trajectory match modes)."""

    # strict: same calls in the same order; unordered: same calls in any order;
    # subset: every call made was expected; superset: every expected call was made (others allowed)
    mode: Literal["strict", "unordered", "subset", "superset"] = "superset"
    calls: list[ExpectedCall]


class ReplyExpectation(_Strict):
    """Assertions on the bot's reply text of one turn (all replies of the turn joined)."""

    contains: list[str] = []  # case-insensitive
    not_contains: list[str] = []  # case-insensitive
    regex: list[str] = []  # re.search, case-insensitive
    language: Literal["pt-BR", "en"] | None = None
    max_length: int | None = Field(None, gt=0)
    empty: bool | None = None  # True: the bot must stay silent (a human agent has the conversation)

    @field_validator("regex")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"invalid regex {pattern!r}: {exc}") from None
        return patterns


class Pin(_Strict):
    """A WhatsApp location pin as Twilio posts it: coordinates, and the map's words when a place was picked."""

    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    address: str | None = None
    label: str | None = None


class Turn(_Strict):
    """One step of the customer's side: something they write or share (a pin), or do (pay on the pay page)."""

    say: str | list[str] | None = None  # a list is several messages coalesced into one turn
    location: Pin | None = None  # a pin shared in this turn (after what they say, if anything)
    # an attachment sent in this turn that nobody reads as words (evals run no transcription provider): a voice note
    # ("audio"), an image, a document, anything else ("other"); what they `say` with it is its caption
    media: UnreadMedia | None = None
    action: Literal["pay"] | None = None
    route: RouteLabel | None = None
    tools: ToolExpectation | None = None
    reply: ReplyExpectation | None = None

    @field_validator("say", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
        # YAML reads bare yes/no/on/off as booleans and digits as numbers
        raise ValueError(f'must be text or a list of texts, got {value!r} (quote it: say: "{value}")')

    @model_validator(mode="after")
    def _one_kind(self) -> Turn:
        if (self.say is None and self.location is None and self.media is None) == (self.action is None):
            raise ValueError("a turn has either `say` (or `location`, `media`) or `action`")
        if self.action is not None and (self.route or self.tools):
            raise ValueError("an `action` turn has no route or tool calls to expect")
        return self

    @property
    def texts(self) -> list[str]:
        """The messages of this turn."""
        if self.say is None:
            return []
        return [self.say] if isinstance(self.say, str) else list(self.say)


class Address(_Strict):
    """A delivery address; city and state default to the demo restaurant's."""

    label: str | None = None
    street: str
    number: str
    complement: str | None = None
    neighborhood: str
    city: str = "São Paulo"
    state: str = "SP"
    postal_code: str | None = None
    reference: str | None = None
    # where a location pin put it: radius delivery areas measure from these
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)


class LineSpec(_Strict):
    """An order or cart line: sku, quantity, option choices (by name) and removed ingredients."""

    sku: str
    qty: int = Field(1, gt=0)
    options: list[str] = []
    removed: list[str] = []


class PastOrder(_Strict):
    """An order the customer placed before this conversation (priced from the menu when seeded)."""

    lines: list[LineSpec] = Field(min_length=1)
    payment_method: Literal["pix", "card", "cash"] = "cash"
    days_ago: int = Field(7, ge=0)


class CustomerProfile(_Strict):
    """Who writes: a new phone, or a returning customer with saved data and past orders."""

    phone: str | None = None  # default: a phone derived from the scenario id
    name: str | None = None  # None: a new customer (no row in the database)
    email: str | None = None
    addresses: list[Address] = []
    past_orders: list[PastOrder] = []
    # what they told the restaurant before ("sem cebola sempre"), remembered as the jobs worker would
    memories: list[str] = []

    @model_validator(mode="after")
    def _returning_needs_name(self) -> CustomerProfile:
        if self.name is None and (self.addresses or self.past_orders or self.email):
            raise ValueError("a returning customer (addresses, past orders, e-mail) needs a `name`")
        return self


class MenuChange(_Strict):
    """A change to the restaurant's menu before the conversation starts."""

    sku: str
    available: bool | None = None
    price: Decimal | None = None


FIXTURES_DIR = Path(__file__).resolve().parent.parent / "comanda" / "fixtures"


class Fixture(_Strict):
    """The restaurant: the demo one (default), another fixture restaurant, or a menu file; changes; the clock."""

    # a restaurant of comanda/fixtures by file name ("sushi-kaze"): imported once into the template database,
    # under the slug its file gives; `tenant` must then be that slug
    restaurant: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    tenant: str = "demo"
    menu_file: str | None = None  # relative to the scenario file; imported into `tenant`
    menu_changes: list[MenuChange] = []
    clock: Literal["open", "closed"] | datetime = "open"
    # the payment provider charges only with the payer's CPF (as Asaas does): the payment step asks for it once
    payments_need_cpf: bool = False

    @model_validator(mode="after")
    def _one_restaurant(self) -> Fixture:
        if self.restaurant and self.menu_file:
            raise ValueError("give either `restaurant` (a fixture) or `menu_file`, not both")
        if self.restaurant and not (FIXTURES_DIR / f"{self.restaurant}.json").is_file():
            raise ValueError(f"no restaurant fixture {self.restaurant!r} in {FIXTURES_DIR}")
        return self

    @property
    def restaurant_file(self) -> Path | None:
        """The fixture restaurant's menu file."""
        return FIXTURES_DIR / f"{self.restaurant}.json" if self.restaurant else None

    def now(self) -> datetime:
        """The time the conversation happens at."""
        if self.clock == "open":
            return OPEN_CLOCK
        if self.clock == "closed":
            return CLOSED_CLOCK
        return self.clock


class ExpectedAddress(_Strict):
    """Address fields to compare (only those given; case-insensitive)."""

    street: str | None = None
    number: str | None = None
    complement: str | None = None
    neighborhood: str | None = None
    city: str | None = None
    state: str | None = None


class ExpectedOrder(_Strict):
    """The order placed in this conversation (the latest one), compared field by field."""

    lines: list[LineSpec] | None = None
    subtotal: Decimal | None = None
    delivery_fee: Decimal | None = None
    total: Decimal | None = None
    status: Literal["placed", "awaiting_payment", "paid", "cancelled", "delivered"] | None = None
    payment_method: Literal["pix", "card", "cash"] | None = None
    # the payment started with the provider: none for cash
    payment_status: Literal["none", "pending", "paid", "failed", "refunded"] | None = None
    change_for: Decimal | None = None
    address: ExpectedAddress | None = None


class ExpectedCustomer(_Strict):
    """What must be saved about the customer at the end."""

    registered: bool | None = None  # a customer row with a name exists
    name: str | None = None
    email: str | None = None
    cpf: str | None = None
    address: ExpectedAddress | None = None  # the default address
    addresses: int | None = Field(None, ge=0)  # how many saved addresses


class ExpectedCart(_Strict):
    """The cart left in the conversation (checkpointed in Postgres), for conversations that don't check out."""

    lines: list[LineSpec]


class Expected(_Strict):
    """The final state the customer would expect, in the spirit of τ-bench's reward."""

    orders: int | None = Field(None, ge=0)  # orders placed in this conversation
    order: ExpectedOrder | None = None
    customer: ExpectedCustomer | None = None
    ticket: bool | None = None  # a handoff ticket was opened
    cart: ExpectedCart | None = None


class Scenario(_Strict):
    """One conversation to run and how to grade it."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    description: str = ""
    tags: list[str] = []
    locale: Literal["pt-BR", "en"] = "pt-BR"
    fixture: Fixture = Fixture()
    customer: CustomerProfile = CustomerProfile()
    turns: list[Turn] | None = None
    # a simulated customer (needs a real model): what they want, in their words
    goal: str | None = None
    max_turns: int = Field(12, gt=0, le=40)
    expect: Expected
    # why the current offline model is known to fail this: still counted in the success rate, and strict (a run
    # fails when a scenario fails without a note, or passes every trial with one: then the note must go)
    known_failure: str | None = None

    file: str = ""  # set by the loader

    @model_validator(mode="after")
    def _turns_or_goal(self) -> Scenario:
        if (self.turns is None) == (self.goal is None):
            raise ValueError("a scenario has either `turns` (scripted) or `goal` (simulated user)")
        if self.turns is not None and not self.turns:
            raise ValueError("`turns` is empty")
        return self

    @property
    def scripted(self) -> bool:
        """True when the customer's side is written out turn by turn."""
        return self.turns is not None


class ScenarioFileError(Exception):
    """A scenario file that can't be used; every problem names the file and the field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _field_path(loc: tuple[int | str, ...], doc: Any) -> str:
    """`scenarios[2].turns[3].reply.regex (scenario 'order-pizza')` from a pydantic error location."""
    path = ""
    for key in loc:
        path += f"[{key}]" if isinstance(key, int) else (f".{key}" if path else str(key))
    scenarios = doc.get("scenarios") if isinstance(doc, dict) else None
    if len(loc) > 1 and loc[0] == "scenarios" and isinstance(loc[1], int) and isinstance(scenarios, list):
        item = scenarios[loc[1]] if loc[1] < len(scenarios) else None
        if isinstance(item, dict) and item.get("id"):
            path += f" (scenario {item['id']!r})"
    return path


class _File(_Strict):
    scenarios: list[Scenario] = Field(min_length=1)


def load_file(path: Path) -> list[Scenario]:
    """The scenarios of one YAML file (`scenarios: [...]`), validated; ScenarioFileError names file and field."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ScenarioFileError([f"{path}: not valid YAML: {exc}"]) from None
    if not isinstance(doc, dict):
        raise ScenarioFileError([f"{path}: expected a mapping with a `scenarios` list"])
    try:
        parsed = _File.model_validate(doc)
    except ValidationError as exc:
        problems = [
            f"{path}: {_field_path(tuple(e['loc']), doc) or '(file)'}: {e['msg']}"
            for e in exc.errors(include_url=False)
        ]
        raise ScenarioFileError(problems) from None
    return [s.model_copy(update={"file": str(path)}) for s in parsed.scenarios]


def load_suite(pattern: str | None = None, directory: Path = SCENARIOS_DIR) -> list[Scenario]:
    """Every scenario of the files matching `pattern` (a glob, relative to the scenarios directory or not).

    All files are checked before anything runs; problems of every file are reported together.
    """
    files = _matching(pattern, directory)
    if not files:
        raise ScenarioFileError([f"no scenario file matches {pattern or '*.yaml'} in {directory}"])
    scenarios: list[Scenario] = []
    problems: list[str] = []
    for file in files:
        try:
            scenarios.extend(load_file(file))
        except ScenarioFileError as exc:
            problems.extend(exc.problems)
    seen: dict[str, str] = {}
    for s in scenarios:
        if s.id in seen:
            problems.append(f"{s.file}: id: {s.id!r} is also used in {seen[s.id]}")
        seen[s.id] = s.file
    if problems:
        raise ScenarioFileError(problems)
    return scenarios


def select(scenarios: list[Scenario], *, ids: list[str], tags: list[str]) -> list[Scenario]:
    """The scenarios whose id matches one of `ids` (globs) and that carry one of `tags`; an empty filter keeps all."""
    return [
        s
        for s in scenarios
        if (not ids or any(fnmatch.fnmatchcase(s.id, pattern) for pattern in ids))
        and (not tags or any(t in s.tags for t in tags))
    ]


def _matching(pattern: str | None, directory: Path) -> list[Path]:
    if pattern is None:
        return sorted(directory.glob("*.yaml"))
    given = Path(pattern)
    if given.is_file():
        return [given]
    if given.is_dir():
        return sorted(given.glob("*.yaml"))
    if given.is_absolute():
        return sorted(Path(given.anchor).glob(str(given.relative_to(given.anchor))))
    # a glob from the working directory counts only if it names YAML files ("evals/scenarios/menu*.yaml")
    local = sorted(p for p in Path().glob(pattern) if p.is_file() and p.suffix in (".yaml", ".yml"))
    return local or sorted(directory.glob(pattern if pattern.endswith(".yaml") else f"{pattern}.yaml"))
