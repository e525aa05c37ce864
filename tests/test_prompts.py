"""The prompt sets: v1 loads and validates, every sentence renders in both languages, broken copies are refused."""

from __future__ import annotations

import shutil
import string
from pathlib import Path

import pytest
import yaml

from prompts import (
    INTENTS,
    LOCALES,
    SYSTEM_FIELDS,
    SYSTEM_PROMPTS,
    MissingFieldError,
    PromptSet,
    PromptSetError,
    UnknownPromptError,
    catalog,
    load_prompt_set,
)
from prompts.loader import SETS_DIR

# The contract other modules render against: key → exactly these fields.
EXPECTED_REPLIES: dict[str, set[str]] = {
    "greeting.new": {"restaurant"},
    "greeting.returning": {"name", "restaurant", "last_order"},
    "greeting.returning_no_orders": {"name", "restaurant"},
    "registration.ask_name": set(),
    "registration.ask_address": {"name"},
    "registration.ask_address_missing": {"missing"},
    "registration.ask_email": {"name"},
    "registration.confirm": {"summary"},
    "registration.done": {"name"},
    "registration.invalid_field": {"fields"},
    "registration.addresses": {"addresses"},
    "registration.address_chosen": {"address"},
    "registration.ask_new_address": set(),
    "registration.updated": set(),
    "menu.overview": {"restaurant", "categories"},
    "menu.results": {"items"},
    "menu.results_tag": {"tag", "items"},
    "menu.no_results": {"query", "suggestions"},
    "menu.item_details": {"name", "price", "description", "options"},
    "menu.open_now": {"today_hours"},
    "menu.closed_now": {"next_opening"},
    "menu.hours": {"week"},
    "menu.delivery_fee": {"fee"},
    "menu.delivery_fee_area": {"place", "fee"},
    "menu.delivery_fee_by_area": {"areas"},
    "menu.delivery_fee_outside": {"place", "areas"},
    "menu.unavailable": {"name", "alternatives"},
    "menu.what_next": set(),
    "cart.added": {"added", "cart"},
    "cart.needs_option": {"item", "group", "choices"},
    "cart.removed": {"removed", "cart"},
    "cart.updated": {"cart"},
    "cart.shown": {"cart"},
    "cart.empty": set(),
    "cart.cleared": set(),
    "cart.repeated": {"cart"},
    "cart.repeated_skipped": {"skipped", "cart"},
    "cart.unknown_item": {"item", "suggestions"},
    "cart.ambiguous_item": {"item", "suggestions"},
    "cart.unavailable_item": {"item", "suggestions"},
    "cart.invalid_quantity": {"max"},
    "cart.invalid_option": {"item", "option", "suggestions"},
    "cart.invalid_option_none": {"item"},
    "cart.invalid_removal": {"item", "option", "suggestions"},
    "cart.invalid_removal_none": {"item"},
    "cart.too_many_options": {"group", "max"},
    "cart.not_in_cart": {"item"},
    "cart.nothing_to_repeat": set(),
    "cart.what_next": set(),
    "payment.summary": {"summary"},
    "payment.ask_method": set(),
    "payment.ask_confirm": {"summary"},
    "payment.placed_cash": {"order_id", "total", "change"},
    "payment.placed_pix": {"order_id", "total", "pix_code", "pay_url"},
    "payment.placed_card": {"order_id", "total", "pay_url"},
    "payment.invalid_change": {"total"},
    "payment.not_registered": set(),
    "payment.empty_cart": set(),
    "payment.no_address": set(),
    "payment.outside_area": {"place", "areas"},
    "payment.unlocated": set(),
    "payment.failed": set(),
    "payment.closed": {"next_opening"},
    "payment.cancelled": set(),
    "payment.status": {"order_id", "status"},
    "handoff.opened": set(),
    "handoff.waiting": set(),
    "handoff.resumed": set(),
    "handoff.agent_prefix": {"agent"},
    "smalltalk.thanks": set(),
    "smalltalk.help": {"restaurant"},
    "smalltalk.bye": set(),
    "smalltalk.identity": {"restaurant"},
    "smalltalk.how_to_order": set(),
    "fallback.not_understood": set(),
    "fallback.not_understood_again": set(),
    "fallback.empty": set(),
    "fallback.emoji": set(),
    "fallback.too_long": set(),
    "fallback.other_language": set(),
    "fallback.price_injection": set(),
    "error.internal": set(),
}

TOOLS: dict[str, list[str]] = {
    "menu": ["search_menu", "item_details", "opening_hours", "delivery_fee"],
    "cart": [
        "add_to_cart",
        "choose_option",
        "remove_from_cart",
        "set_quantity",
        "update_line",
        "show_cart",
        "clear_cart",
        "repeat_last_order",
    ],
    "registration": [
        "update_registration",
        "confirm_registration",
        "list_addresses",
        "choose_address",
        "start_new_address",
        "update_customer",
    ],
    "payment": ["checkout_summary", "set_payment_method", "place_order", "order_status"],
    "handoff": ["request_human"],
    "smalltalk": ["request_human"],
}

NEVER_STATE_PRICES = {
    "pt-BR": "NUNCA informe preço, total, taxa ou qualquer valor que não tenha vindo de um resultado de ferramenta",
    "en": "NEVER state a price, total, fee or any amount that did not come from a tool result",
}


@pytest.fixture
def v1() -> PromptSet:
    return load_prompt_set("v1")


@pytest.fixture
def v1_copy(tmp_path: Path) -> Path:
    target = tmp_path / "my-prompts"
    shutil.copytree(SETS_DIR / "v1", target)
    return target


def _dummy(fields: frozenset[str]) -> dict[str, str]:
    return {field: f"<{field}>" for field in fields}


def _system_context() -> dict[str, str]:
    return {field: f"<{field}>" for field in SYSTEM_FIELDS}


def test_v1_loads_with_its_version_and_fingerprint(v1: PromptSet) -> None:
    assert v1.version == "v1"
    assert len(v1.fingerprint) == 12
    assert v1.label == f"v1@{v1.fingerprint}"
    assert set(v1.locales) == set(LOCALES)
    # cached: the same object for the same set, however it is named
    assert load_prompt_set("v1") is v1
    assert load_prompt_set(SETS_DIR / "v1") is v1


def test_default_set_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, v1_copy: Path) -> None:
    monkeypatch.delenv("COMANDA_PROMPTS", raising=False)
    assert load_prompt_set().version == "v1"
    monkeypatch.setenv("COMANDA_PROMPTS", str(v1_copy))
    assert load_prompt_set().path == v1_copy.resolve()


def test_every_reply_the_spec_names_exists_with_exactly_its_fields(v1: PromptSet) -> None:
    missing = sorted(set(EXPECTED_REPLIES) - set(v1.reply_keys))
    assert not missing, f"missing reply keys: {missing}"
    wrong = {
        key: sorted(v1.reply_fields(key)) for key, fields in EXPECTED_REPLIES.items() if v1.reply_fields(key) != fields
    }
    assert not wrong, f"reply keys with other fields than the contract: {wrong}"


@pytest.mark.parametrize("locale", LOCALES)
def test_every_reply_renders_with_all_its_fields(v1: PromptSet, locale: str) -> None:
    for key in v1.reply_keys:
        fields = v1.reply_fields(key)
        text = v1.reply(key, locale, **_dummy(fields))
        assert text.strip(), key
        for field in fields:
            assert f"<{field}>" in text, f"{key} [{locale}] does not show {{{field}}}"
        assert "{" not in text.replace("<", "").replace(">", ""), f"{key} [{locale}] left a raw brace: {text!r}"


def _raw_templates(path: Path) -> dict[str, set[str]]:
    """Reply key → placeholders, read straight from the YAML (independently of the loader)."""

    def walk(node: dict, prefix: str = "") -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for key, value in node.items():
            if isinstance(value, dict):
                out.update(walk(value, f"{prefix}{key}."))
            else:
                out[f"{prefix}{key}"] = {f for _, f, _, _ in string.Formatter().parse(value) if f is not None}
        return out

    return walk(yaml.safe_load(path.read_text()))


def test_locales_have_the_same_keys_and_placeholders(v1: PromptSet) -> None:
    pt = _raw_templates(v1.path / "replies.pt-BR.yaml")
    en = _raw_templates(v1.path / "replies.en.yaml")
    assert pt == en
    assert set(pt) == set(v1.reply_keys)
    # only layout-only replies may read the same in both languages
    same = {
        key
        for key in v1.reply_keys
        if v1.reply(key, "pt-BR", **_dummy(v1.reply_fields(key))) == v1.reply(key, "en", **_dummy(v1.reply_fields(key)))
    }
    assert same <= {"handoff.agent_prefix", "menu.item_details"}, f"not translated: {same}"


def test_replies_speak_the_customers_language(v1: PromptSet) -> None:
    assert v1.reply("cart.what_next", "pt-BR") == "Mais alguma coisa ou posso fechar o pedido?"
    assert v1.reply("cart.what_next", "en") == "Anything else, or shall I close the order?"
    # locale tags as they arrive from tenants or detectors
    assert v1.reply("cart.empty", "pt_BR") == v1.reply("cart.empty", "pt")
    assert v1.reply("cart.empty", "en-US") == v1.reply("cart.empty", "en")
    with pytest.raises(ValueError, match="unsupported locale"):
        v1.reply("cart.empty", "es")


def test_other_language_answers_in_both_languages(v1: PromptSet) -> None:
    for locale in LOCALES:
        text = v1.reply("fallback.other_language", locale)
        assert "português" in text and "Portuguese" in text


def test_greeting_for_a_returning_customer_offers_the_last_order(v1: PromptSet) -> None:
    text = v1.reply(
        "greeting.returning", "pt-BR", name="João", restaurant="Sabor Brasileiro", last_order="1x Cheese Bacon"
    )
    assert "João" in text and "Sabor Brasileiro" in text and "1x Cheese Bacon" in text


def test_an_empty_optional_field_leaves_no_hole(v1: PromptSet) -> None:
    text = v1.reply("payment.placed_cash", "pt-BR", order_id=42, total="R$ 44,80", change="")
    assert "*#42*" in text and "R$ 44,80" in text
    assert "\n\n\n" not in text
    assert v1.reply("handoff.agent_prefix", "pt-BR", agent="Ana") == "*Ana*: "


def test_a_missing_field_names_the_reply_and_the_field(v1: PromptSet) -> None:
    with pytest.raises(MissingFieldError) as err:
        v1.reply("cart.added", "en", added="1x Coca-Cola")
    assert "cart.added" in str(err.value) and "cart" in err.value.missing
    with pytest.raises(UnknownPromptError, match=r"cart\.added"):
        v1.reply("cart.add", "en")
    assert v1.has_reply("cart.added") and not v1.has_reply("cart.add")


def test_catalog_uses_the_default_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COMANDA_PROMPTS", raising=False)
    assert catalog.text("greeting.new", "en", restaurant="Demo") == load_prompt_set("v1").reply(
        "greeting.new", "en", restaurant="Demo"
    )
    assert catalog.has("error.internal")


@pytest.mark.parametrize("locale", LOCALES)
def test_system_prompts_list_their_tools_and_the_price_rule(v1: PromptSet, locale: str) -> None:
    for name, tools in TOOLS.items():
        text = v1.system(name, locale, **_system_context())
        for tool in [*tools, "request_human"]:
            assert tool in text, f"system/{name} [{locale}] does not mention {tool}"
        assert NEVER_STATE_PRICES[locale] in text, f"system/{name} [{locale}] lacks the never-state-prices rule"
        assert "R$ 1" in text, f"system/{name} [{locale}] lacks the price-injection example"


@pytest.mark.parametrize("locale", LOCALES)
def test_system_prompts_use_every_context_field_and_end_with_the_context(v1: PromptSet, locale: str) -> None:
    heading = {"pt-BR": "# Contexto", "en": "# Context"}[locale]
    for name in SYSTEM_PROMPTS:
        assert v1.system_fields(name) == SYSTEM_FIELDS, name
        text = v1.system(name, locale, **{**_system_context(), "context_json": {"cart": {"lines": []}}})
        assert text.rstrip().endswith('```json\n{\n  "cart": {\n    "lines": []\n  }\n}\n```'), name
        assert heading in text


def test_router_prompt_defines_every_intent_and_structured_output(v1: PromptSet) -> None:
    for locale in LOCALES:
        text = v1.system("router", locale, **_system_context())
        for intent in INTENTS:
            assert f"- {intent}:" in text
        assert '{"intent": "<menu|cart|registration|payment|handoff|smalltalk>"' in text


def test_a_system_prompt_without_its_context_names_the_prompt_and_field(v1: PromptSet) -> None:
    context = _system_context()
    del context["restaurant_name"]
    with pytest.raises(KeyError, match=r"system/cart \[en\].*restaurant_name"):
        v1.system("cart", "en", **context)


def test_routing_has_enough_examples_per_intent(v1: PromptSet) -> None:
    routing = v1.routing_examples()
    assert set(routing) == set(INTENTS)
    for intent, examples in routing.items():
        assert len(examples) >= 40, intent
        english = [e for e in examples if e.locale == "en"]
        portuguese = [e for e in examples if e.locale == "pt-BR"]
        assert len(english) >= 8, intent
        assert len(portuguese) >= len(examples) * 0.6, intent
    texts = {e.text for examples in routing.values() for e in examples}
    for sample in ("manda um x-salada", "fecha a conta", "chama um atendente", "obg", "do you have vegan options?"):
        assert sample in texts


def test_a_directory_spec_loads_and_edits_change_the_fingerprint(v1: PromptSet, v1_copy: Path) -> None:
    replies = v1_copy / "replies.en.yaml"
    replies.write_text(replies.read_text().replace("Anything else, or shall I close the order?", "Anything else?"))
    edited = load_prompt_set(str(v1_copy))
    assert edited.version == "v1"
    assert edited.fingerprint != v1.fingerprint
    assert edited.reply("cart.what_next", "en") == "Anything else?"
    assert v1.reply("cart.what_next", "en") == "Anything else, or shall I close the order?"


def test_a_copy_missing_a_key_in_en_is_refused(v1_copy: Path) -> None:
    replies = v1_copy / "replies.en.yaml"
    data = yaml.safe_load(replies.read_text())
    del data["cart"]["what_next"]
    replies.write_text(yaml.safe_dump(data, allow_unicode=True))
    with pytest.raises(PromptSetError) as err:
        load_prompt_set(v1_copy)
    assert err.value.file.endswith("replies.en.yaml") and err.value.key == "cart.what_next"
    assert "replies.en.yaml" in str(err.value) and "cart.what_next" in str(err.value)


def test_a_copy_with_a_placeholder_in_one_locale_only_is_refused(v1_copy: Path) -> None:
    replies = v1_copy / "replies.pt-BR.yaml"
    data = yaml.safe_load(replies.read_text())
    data["cart"]["empty"] = "Seu carrinho está vazio, {name}."
    replies.write_text(yaml.safe_dump(data, allow_unicode=True))
    with pytest.raises(PromptSetError, match=r"cart\.empty.*\{name\}"):
        load_prompt_set(v1_copy)


def test_a_copy_missing_a_system_prompt_is_refused(v1_copy: Path) -> None:
    (v1_copy / "system" / "payment.en.md").unlink()
    with pytest.raises(PromptSetError, match=r"payment\.en\.md.*missing system prompt"):
        load_prompt_set(v1_copy)


def test_a_system_prompt_with_an_unknown_placeholder_is_refused(v1_copy: Path) -> None:
    prompt = v1_copy / "system" / "menu.pt-BR.md"
    prompt.write_text(prompt.read_text().replace("{restaurant_address}", "{restaurant_adress}"))
    with pytest.raises(PromptSetError, match=r"menu\.pt-BR\.md.*restaurant_adress"):
        load_prompt_set(v1_copy)


@pytest.mark.parametrize("locale", LOCALES)
def test_the_summary_prompt_renders_in_both_languages_with_what_it_summarises(v1: PromptSet, locale: str) -> None:
    system = v1.task("summary", locale)
    material = v1.task("summary_input", locale, previous_summary="- pediu pizza", messages="> chegou fria")
    assert "`>`" in system and "`<`" in system  # it says whose lines are whose
    assert "- pediu pizza" in material and "> chegou fria" in material
    with pytest.raises(MissingFieldError, match="summary_input"):
        v1.task("summary_input", locale, messages="> oi")


def test_a_copy_whose_summary_prompt_lost_its_material_is_refused(v1_copy: Path) -> None:
    prompt = v1_copy / "tasks" / "summary_input.en.md"
    prompt.write_text(prompt.read_text().replace("{messages}", "the messages"))
    with pytest.raises(PromptSetError, match=r"summary_input\.en\.md.*exactly: messages, previous_summary"):
        load_prompt_set(v1_copy)
    prompt.unlink()
    with pytest.raises(PromptSetError, match=r"summary_input\.en\.md.*missing task prompt"):
        load_prompt_set(v1_copy)


def test_duplicate_yaml_keys_and_contradicting_examples_are_refused(v1_copy: Path, tmp_path: Path) -> None:
    replies = v1_copy / "replies.en.yaml"
    replies.write_text(replies.read_text() + '\nerror:\n  internal: "again"\n')
    with pytest.raises(PromptSetError, match=r"replies\.en\.yaml.*duplicate key"):
        load_prompt_set(v1_copy)

    other = tmp_path / "other"
    shutil.copytree(SETS_DIR / "v1", other)
    routing = other / "routing.yaml"
    clash = routing.read_text().replace('{text: "tchau", locale: pt-BR}', '{text: "fecha a conta", locale: pt-BR}')
    routing.write_text(clash)
    with pytest.raises(PromptSetError, match=r"routing\.yaml.*also labelled 'payment'"):
        load_prompt_set(other)


def test_an_unknown_set_is_refused_with_the_shipped_versions() -> None:
    with pytest.raises(PromptSetError, match="shipped versions: v1"):
        load_prompt_set("v99")
