"""The menu file formats (JSON with the restaurant, CSV for flat menus) and their validation.

Validation collects every problem at once, each naming the item (sku or index) and the field, so an
operator fixes a file in one pass instead of one error per run.
"""

from __future__ import annotations

import csv
import io
import json
import re
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from memory.repos.delivery_areas import DeliveryArea, DeliverySetup
from tools.delivery.areas import cep_digits, place_key
from tools.menu.hours import DAYS, parse_range

_MONEY = re.compile(r"^-?\d{1,9}\.\d{2}$")
_SKU = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
_CEP_PREFIX = re.compile(r"^(?:\d{1,8}|\d{5}-\d{1,3})$")


def _money(value: Any, *, allow_negative: bool) -> Decimal:
    if not isinstance(value, str) or not _MONEY.match(value):
        raise ValueError('must be a string in reais with a dot and two decimals, like "54.00"')
    amount = Decimal(value)
    if amount < 0 and not allow_negative:
        raise ValueError("must not be negative")
    return amount


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class ChoiceFile(_Strict):
    """An option choice: a name and a price delta."""

    name: str = Field(min_length=1)
    price: Decimal

    @field_validator("price", mode="before")
    @classmethod
    def _price(cls, v: Any) -> Decimal:
        return _money(v, allow_negative=True)


class OptionGroupFile(_Strict):
    """An option group: how many choices to pick (min..max) and the choices."""

    group: str = Field(min_length=1)
    min: int = Field(ge=0)
    max: int = Field(ge=1)
    choices: list[ChoiceFile] = Field(min_length=1)


class ItemFile(_Strict):
    """One menu item as written in the file."""

    sku: str
    category: str = Field(min_length=1)
    name: str = Field(min_length=1)
    description: str = ""
    price: Decimal
    tags: list[str] = []
    available: bool = True
    options: list[OptionGroupFile] = []
    removable: list[str] = []
    # what the kitchen declares ("camarão", "lactose"): the allergy guard stops these for a customer who is allergic
    allergens: list[str] = []

    @field_validator("sku")
    @classmethod
    def _sku(cls, v: str) -> str:
        if not _SKU.match(v):
            raise ValueError("must be letters, digits, '-', '_' or '.', at most 64 characters")
        return v

    @field_validator("price", mode="before")
    @classmethod
    def _price(cls, v: Any) -> Decimal:
        return _money(v, allow_negative=False)


class DeliveryAreaFile(_Strict):
    """A delivery area: neighbourhoods and/or CEP prefixes, or a radius band up to `max_km` from the restaurant."""

    name: str = Field(min_length=1, max_length=80)
    fee: Decimal
    neighborhoods: list[str] = []
    cep_prefixes: list[str] = []
    max_km: Decimal | None = Field(None, gt=0, le=100)

    @field_validator("fee", mode="before")
    @classmethod
    def _fee(cls, v: Any) -> Decimal:
        return _money(v, allow_negative=False)

    @field_validator("neighborhoods")
    @classmethod
    def _neighborhoods(cls, v: list[str]) -> list[str]:
        names = [n.strip() for n in v]
        if any(not place_key(n) for n in names):
            raise ValueError("a neighbourhood name is empty")
        return names

    @field_validator("cep_prefixes")
    @classmethod
    def _ceps(cls, v: list[str]) -> list[str]:
        for prefix in v:
            if not _CEP_PREFIX.match(prefix.strip()):
                raise ValueError(f'{prefix!r} is not a CEP prefix: 1 to 8 digits, like "05422" or "05422-0"')
        return [cep_digits(p) for p in v]

    @model_validator(mode="after")
    def _one_kind(self) -> DeliveryAreaFile:
        places = bool(self.neighborhoods or self.cep_prefixes)
        if places == (self.max_km is not None):
            raise ValueError("give either neighborhoods/cep_prefixes or max_km (a radius band), not both nor neither")
        return self


class DeliveryFile(_Strict):
    """A restaurant's coordinates and delivery areas (a menu file's restaurant block, or `comanda tenants
    delivery-areas --set FILE`)."""

    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)
    delivery_areas: list[DeliveryAreaFile] | None = None


def delivery_problems(block: DeliveryFile) -> list[tuple[str, str]]:
    """What is wrong across a restaurant's coordinates and areas, as (field, message)."""
    problems: list[tuple[str, str]] = []
    if (block.latitude is None) != (block.longitude is None):
        problems.append(("latitude", "give both latitude and longitude, or neither"))
    areas = block.delivery_areas or []
    names: dict[str, int] = {}
    places: dict[str, int] = {}
    bands: dict[Decimal, int] = {}
    for i, area in enumerate(areas):
        field = f"delivery_areas.{i}"
        if area.name.casefold() in names:
            problems.append((f"{field}.name", f"repeats the name of area #{names[area.name.casefold()]}"))
        names.setdefault(area.name.casefold(), i)
        for kind, values in (
            ("neighborhoods", [place_key(n) for n in area.neighborhoods]),
            ("cep_prefixes", area.cep_prefixes),
        ):
            for value in values:
                key = f"{kind}:{value}"
                if key in places:
                    problems.append((f"{field}.{kind}", f"{value!r} is already in area #{places[key]}"))
                places.setdefault(key, i)
        if area.max_km is not None:
            if block.latitude is None or block.longitude is None:
                problems.append((f"{field}.max_km", "a radius band needs the restaurant's latitude and longitude"))
            if area.max_km in bands:
                problems.append((f"{field}.max_km", f"the same radius as area #{bands[area.max_km]}"))
            bands.setdefault(area.max_km, i)
    return problems


def delivery_setup(block: DeliveryFile) -> DeliverySetup:
    """The validated block as the database stores it."""
    return DeliverySetup(
        latitude=block.latitude,
        longitude=block.longitude,
        areas=[DeliveryArea.model_validate(a.model_dump()) for a in block.delivery_areas or []],
    )


class RestaurantFile(DeliveryFile):
    """The restaurant block of a JSON menu file (with its optional coordinates and delivery areas)."""

    slug: str
    name: str = Field(min_length=1)
    whatsapp: str
    address: str = ""
    timezone: str = "America/Sao_Paulo"
    locale: str = "pt-BR"
    delivery_fee: Decimal = Decimal("0.00")
    hours: dict[str, str] = {}
    # the privacy policy shown with the LGPD notice; left out, the one `comanda customers privacy-notice` set stays
    privacy_url: str | None = None

    @field_validator("slug")
    @classmethod
    def _slug(cls, v: str) -> str:
        if not _SLUG.match(v):
            raise ValueError("must be lowercase letters, digits and '-', 2 to 63 characters")
        return v

    @field_validator("whatsapp")
    @classmethod
    def _whatsapp(cls, v: str) -> str:
        return to_e164(v)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{v!r} is not an IANA time zone such as 'America/Sao_Paulo'") from None
        return v

    @field_validator("locale")
    @classmethod
    def _locale(cls, v: str) -> str:
        if v not in ("pt-BR", "en"):
            raise ValueError("must be 'pt-BR' or 'en'")
        return v

    @field_validator("delivery_fee", mode="before")
    @classmethod
    def _fee(cls, v: Any) -> Decimal:
        return _money(v, allow_negative=False)

    @field_validator("privacy_url")
    @classmethod
    def _privacy_url(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"https?://\S+", v):
            raise ValueError("must be an http(s) link such as https://example.com/privacidade")
        return v

    @field_validator("hours")
    @classmethod
    def _hours(cls, v: dict[str, str]) -> dict[str, str]:
        for day, value in v.items():
            if day not in DAYS:
                raise ValueError(f"unknown day {day!r}: use {', '.join(DAYS)}")
            parse_range(value)
        return v


def to_e164(number: str, region: str = "BR") -> str:
    """Normalise a phone number to E.164 ("+5511999990001"); raises ValueError when it isn't valid."""
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"{number!r} is not a phone number: {exc}") from None
    if not phonenumbers.is_possible_number(parsed):
        raise ValueError(f"{number!r} is not a possible phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


class MenuFileError(BaseModel):
    """One problem in a menu file: where (item sku/index, or restaurant), which field, and why."""

    model_config = ConfigDict(frozen=True)

    where: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.field}: {self.message}"


class MenuFile(BaseModel):
    """A validated menu: the restaurant block (absent for CSV) and its items."""

    restaurant: RestaurantFile | None
    items: list[ItemFile]


class InvalidMenuFile(Exception):
    """A menu file with problems; `errors` lists every one of them."""

    def __init__(self, errors: list[MenuFileError]) -> None:
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors


def _loc(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(item)"


def _collect(exc: ValidationError, where: str) -> list[MenuFileError]:
    return [MenuFileError(where=where, field=_loc(e["loc"]), message=e["msg"]) for e in exc.errors()]


def _item_label(raw: Any, index: int) -> str:
    sku = raw.get("sku") if isinstance(raw, dict) else None
    return f"item {sku} (#{index})" if isinstance(sku, str) and sku else f"item #{index}"


def _check_item(item: ItemFile, where: str) -> list[MenuFileError]:
    errors = []
    for gi, group in enumerate(item.options):
        field = f"options.{gi}"
        if group.min > group.max:
            errors.append(
                MenuFileError(where=where, field=f"{field}.min", message=f"min {group.min} > max {group.max}")
            )
        if group.min > len(group.choices):
            errors.append(
                MenuFileError(
                    where=where,
                    field=f"{field}.min",
                    message=f"requires {group.min} choices but has {len(group.choices)}",
                )
            )
        names = [c.name.casefold() for c in group.choices]
        if len(set(names)) != len(names):
            errors.append(MenuFileError(where=where, field=f"{field}.choices", message="choice names repeat"))
        for ci, choice in enumerate(group.choices):
            if item.price + choice.price < 0:
                errors.append(
                    MenuFileError(
                        where=where,
                        field=f"{field}.choices.{ci}.price",
                        message=f"discount {choice.price} is larger than the item price {item.price}",
                    )
                )
    groups = [g.group.casefold() for g in item.options]
    if len(set(groups)) != len(groups):
        errors.append(MenuFileError(where=where, field="options", message="option group names repeat"))
    return errors


def validate_menu(data: Any, *, with_restaurant: bool) -> MenuFile:
    """Validate a decoded menu document; raises InvalidMenuFile listing every problem."""
    errors: list[MenuFileError] = []
    if not isinstance(data, dict):
        raise InvalidMenuFile([MenuFileError(where="file", field="(root)", message="must be a JSON object")])
    expected = {"restaurant", "items"} if with_restaurant else {"items"}
    for key in sorted(set(data) - expected):
        errors.append(MenuFileError(where="file", field=key, message="unknown key"))
    restaurant: RestaurantFile | None = None
    if with_restaurant:
        try:
            restaurant = RestaurantFile.model_validate(data.get("restaurant"))
        except ValidationError as exc:
            errors.extend(_collect(exc, "restaurant"))
        else:
            problems = delivery_problems(restaurant)
            errors.extend(MenuFileError(where="restaurant", field=f, message=m) for f, m in problems)
    raw_items = data.get("items")
    if not isinstance(raw_items, list) or not raw_items:
        errors.append(MenuFileError(where="file", field="items", message="must be a non-empty list of items"))
        raise InvalidMenuFile(errors)
    items: list[ItemFile] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(raw_items):
        where = _item_label(raw, index)
        try:
            item = ItemFile.model_validate(raw)
        except ValidationError as exc:
            errors.extend(_collect(exc, where))
            continue
        if item.sku in seen:
            errors.append(MenuFileError(where=where, field="sku", message=f"repeats the sku of item #{seen[item.sku]}"))
        seen.setdefault(item.sku, index)
        errors.extend(_check_item(item, where))
        items.append(item)
    if errors:
        raise InvalidMenuFile(errors)
    return MenuFile(restaurant=restaurant, items=items)


def parse_json(text: str) -> MenuFile:
    """Parse and validate the JSON format (restaurant + items)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidMenuFile(
            [MenuFileError(where="file", field=f"line {exc.lineno} column {exc.colno}", message=exc.msg)]
        ) from None
    return validate_menu(data, with_restaurant=True)


CSV_COLUMNS = ("sku", "category", "name", "description", "price", "tags", "available", "removable", "allergens")
_CSV_OPTIONAL = ("description", "tags", "available", "removable", "allergens")


def parse_csv(text: str) -> MenuFile:
    """Parse and validate a flat CSV menu (no option groups); list cells are separated by ';'."""
    reader = csv.DictReader(io.StringIO(text))
    header = tuple(reader.fieldnames or ())
    missing = [c for c in CSV_COLUMNS if c not in header and c not in _CSV_OPTIONAL]
    unknown = [c for c in header if c not in CSV_COLUMNS]
    if missing or unknown:
        errs = [MenuFileError(where="file", field=c, message="missing column") for c in missing]
        errs += [MenuFileError(where="file", field=c, message="unknown column") for c in unknown]
        raise InvalidMenuFile(errs)
    items: list[dict[str, Any]] = []
    for row in reader:
        item: dict[str, Any] = {k: (v or "").strip() for k, v in row.items() if k in CSV_COLUMNS}
        for list_col in ("tags", "removable", "allergens"):
            item[list_col] = [p.strip() for p in item.get(list_col, "").split(";") if p.strip()]
        available = item.get("available", "")
        item["available"] = available.lower() not in ("false", "0", "no", "nao", "não", "n")
        items.append(item)
    return validate_menu({"items": items}, with_restaurant=False)
