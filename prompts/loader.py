"""Load and validate a versioned prompt set: system prompts, every reply sentence, routing examples.

A prompt set is a directory:

    manifest.yaml                 version, description, locales
    system/<name>.<locale>.md     one system prompt per subgraph and locale (e.g. system/cart.pt-BR.md)
    tasks/<name>.<locale>.md      the prompts of the model's other jobs (e.g. tasks/summary.pt-BR.md)
    replies.<locale>.yaml         every sentence the bot says, nested mappings flattened to dotted keys
    routing.yaml                  {intent: [{text, locale}]} labelled routing examples

Templates use `str.format` placeholders (`{name}`); a literal brace is written `{{` / `}}`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import string
from collections.abc import Iterable, Mapping, Sequence
from difflib import get_close_matches
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

SETS_DIR = Path(__file__).parent / "sets"
DEFAULT_VERSION = "v1"
ENV_VAR = "COMANDA_PROMPTS"

Locale = Literal["pt-BR", "en"]
LOCALES: tuple[Locale, ...] = ("pt-BR", "en")
SYSTEM_PROMPTS: tuple[str, ...] = ("router", "menu", "cart", "registration", "payment", "handoff", "smalltalk")
INTENTS: tuple[str, ...] = ("menu", "cart", "registration", "payment", "handoff", "smalltalk")
# the graph injects exactly these into every system prompt; anything else is a typo
SYSTEM_FIELDS: frozenset[str] = frozenset(
    {
        "restaurant_name",
        "restaurant_address",
        "opening_hours",
        "open_now",
        "delivery_fee",
        "customer_name",
        "customer_status",
        "last_order",
        "cart",
        "today",
        "context_json",
    }
)

# prompts of what the model does besides answering (not a subgraph's), each with exactly these placeholders:
# summary (the system prompt of a conversation summary) and summary_input (what it is given to summarise)
TASK_PROMPTS: dict[str, frozenset[str]] = {
    "summary": frozenset(),
    "summary_input": frozenset({"previous_summary", "messages"}),
}

_FORMATTER = string.Formatter()
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# an empty optional field ("{change}" = "") must not leave a hole of blank lines in a WhatsApp message
_BLANK_RUN = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")


class PromptSetError(ValueError):
    """A prompt set on disk is invalid; names the file and the key at fault."""

    def __init__(self, file: Path | str, key: str | None, problem: str) -> None:
        self.file = str(file)
        self.key = key
        self.problem = problem
        where = f"{self.file}: {key!r}" if key else self.file
        super().__init__(f"{where}: {problem}")


class MissingFieldError(KeyError):
    """A template was rendered without one of its placeholders."""

    def __init__(self, template: str, missing: Iterable[str]) -> None:
        self.template = template
        self.missing = sorted(missing)
        fields = ", ".join(self.missing)
        self.message = f"prompt {template!r} needs field(s) {fields}, which were not given"
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class UnknownPromptError(KeyError):
    """A reply key or system prompt name that the set does not have."""

    def __init__(self, what: str, name: str, known: Iterable[str]) -> None:
        close = get_close_matches(name, list(known), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        self.message = f"no {what} {name!r} in this prompt set{hint}"
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class Example(BaseModel):
    """One labelled routing example: what a customer wrote and in which language."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str = Field(min_length=1)
    locale: Locale


class Manifest(BaseModel):
    """manifest.yaml: which version this is and which locales it speaks."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str = Field(min_length=1)
    description: str = ""
    locales: list[Locale]


class _Template(BaseModel):
    """A template string and the placeholders it needs."""

    model_config = ConfigDict(frozen=True)

    text: str
    fields: frozenset[str]


def normalize_locale(locale: str) -> Locale:
    """Map "pt", "pt_BR", "PT-br", "en-US"... to a supported locale; refuse anything else."""
    tag = locale.strip().replace("_", "-").lower()
    if tag == "pt" or tag.startswith("pt-"):
        return "pt-BR"
    if tag == "en" or tag.startswith("en-"):
        return "en"
    raise ValueError(f"unsupported locale {locale!r}; supported: {', '.join(LOCALES)}")


class PromptSet:
    """One loaded, validated prompt set. Immutable; render with `system()` and `reply()`."""

    def __init__(
        self,
        *,
        path: Path,
        manifest: Manifest,
        fingerprint: str,
        system: Mapping[tuple[str, Locale], _Template],
        replies: Mapping[tuple[str, Locale], _Template],
        routing: Mapping[str, list[Example]],
        tasks: Mapping[tuple[str, Locale], _Template],
    ) -> None:
        self.path = path
        self.version = manifest.version
        self.description = manifest.description
        self.locales: tuple[Locale, ...] = tuple(manifest.locales)
        self.fingerprint = fingerprint
        self._system = dict(system)
        self._replies = dict(replies)
        self._routing = {intent: list(examples) for intent, examples in routing.items()}
        self._tasks = dict(tasks)
        self._reply_keys = tuple(sorted({key for key, _ in self._replies}))

    def __repr__(self) -> str:
        return f"PromptSet({self.label!r}, path={str(self.path)!r})"

    @property
    def label(self) -> str:
        """Version plus content hash ("v1@3f2a9c0d1e2b"): what evals record to tell edited copies apart."""
        return f"{self.version}@{self.fingerprint}"

    @property
    def reply_keys(self) -> tuple[str, ...]:
        """Every reply key, sorted."""
        return self._reply_keys

    @property
    def system_names(self) -> tuple[str, ...]:
        """The system prompt names (one per subgraph plus the router)."""
        return SYSTEM_PROMPTS

    def has_reply(self, key: str) -> bool:
        """Whether the set has a reply under this key."""
        return (key, self.locales[0]) in self._replies

    def reply_fields(self, key: str) -> frozenset[str]:
        """The placeholders a reply needs (the same in every locale)."""
        return self._template(self._replies, "reply", key, self.locales[0]).fields

    def system_fields(self, name: str) -> frozenset[str]:
        """The placeholders a system prompt uses (a subset of SYSTEM_FIELDS)."""
        return self._template(self._system, "system prompt", name, self.locales[0]).fields

    def reply(self, key: str, locale: str, **fields: Any) -> str:
        """Render a reply sentence in the locale; extra fields are ignored, missing ones raise MissingFieldError."""
        loc = normalize_locale(locale)
        return _render(self._template(self._replies, "reply", key, loc), f"{key} [{loc}]", fields)

    def system(self, name: str, locale: str, **context: Any) -> str:
        """Render a subgraph's system prompt; a non-str `context_json` is serialised to JSON for you."""
        loc = normalize_locale(locale)
        if "context_json" in context and not isinstance(context["context_json"], str):
            context["context_json"] = _to_json(context["context_json"])
        return _render(self._template(self._system, "system prompt", name, loc), f"system/{name} [{loc}]", context)

    def task(self, name: str, locale: str, **fields: Any) -> str:
        """Render the prompt of one of the model's other jobs (TASK_PROMPTS), e.g. the conversation summary."""
        loc = normalize_locale(locale)
        return _render(self._template(self._tasks, "task prompt", name, loc), f"tasks/{name} [{loc}]", fields)

    def routing_examples(self) -> dict[str, list[Example]]:
        """Labelled routing examples per intent (a fresh copy; examples themselves are frozen)."""
        return {intent: list(examples) for intent, examples in self._routing.items()}

    def _template(self, table: Mapping[tuple[str, Locale], _Template], what: str, key: str, loc: Locale) -> _Template:
        found = table.get((key, loc))
        if found is None:
            raise UnknownPromptError(what, key, {name for name, _ in table})
        return found


def _render(template: _Template, name: str, fields: Mapping[str, Any]) -> str:
    missing = template.fields - fields.keys()
    if missing:
        raise MissingFieldError(name, missing)
    text = template.text.format_map(fields)
    return _BLANK_RUN.sub("\n\n", text).strip("\n")


def _to_json(value: Any) -> str:
    if isinstance(value, BaseModel):
        return value.model_dump_json(indent=2)
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)


# ---------------------------------------------------------------- loading


def load_prompt_set(spec: str | Path | None = None) -> PromptSet:
    """Load a prompt set: None → $COMANDA_PROMPTS or "v1"; a name → prompts/sets/<name>; a path → that directory."""
    # called on every model call: resolving the directory (stat + realpath) each time showed up in profiles
    return _load_dir(_resolved(spec, os.environ.get(ENV_VAR)))


@lru_cache(maxsize=64)
def _resolved(spec: str | Path | None, _env: str | None) -> Path:
    return resolve_prompt_dir(spec)


def clear_prompt_cache() -> None:
    """Forget loaded sets (a prompt engineer edited files in a long-running process)."""
    _load_dir.cache_clear()
    _resolved.cache_clear()


def available_versions() -> list[str]:
    """Names of the sets shipped under prompts/sets/."""
    return sorted(p.name for p in SETS_DIR.iterdir() if (p / "manifest.yaml").is_file())


def resolve_prompt_dir(spec: str | Path | None = None) -> Path:
    """Turn a spec into the absolute directory of a prompt set, or explain why it can't."""
    if spec is None:
        spec = os.environ.get(ENV_VAR) or DEFAULT_VERSION
    if isinstance(spec, str) and "/" not in spec and os.sep not in spec and spec not in (".", ".."):
        named = SETS_DIR / spec
        if named.is_dir():
            return named.resolve()
    path = Path(spec).expanduser()
    if path.is_dir():
        return path.resolve()
    raise PromptSetError(
        path, None, f"no prompt set by that name or directory; shipped versions: {', '.join(available_versions())}"
    )


@lru_cache(maxsize=32)
def _load_dir(path: Path) -> PromptSet:
    manifest_file = path / "manifest.yaml"
    if not manifest_file.is_file():
        raise PromptSetError(manifest_file, None, "missing: a prompt set directory needs a manifest.yaml")
    try:
        manifest = Manifest.model_validate(_read_yaml(manifest_file))
    except ValidationError as exc:
        raise PromptSetError(manifest_file, None, _pydantic_problem(exc)) from exc
    for required in LOCALES:
        if required not in manifest.locales:
            raise PromptSetError(manifest_file, "locales", f"must include {required!r}")
    locales: tuple[Locale, ...] = tuple(manifest.locales)
    return PromptSet(
        path=path,
        manifest=manifest,
        fingerprint=_fingerprint(path),
        system=_load_system(path, locales),
        replies=_load_replies(path, locales),
        routing=_load_routing(path / "routing.yaml"),
        tasks=_load_tasks(path, locales),
    )


def _load_system(path: Path, locales: tuple[Locale, ...]) -> dict[tuple[str, Locale], _Template]:
    prompts = _load_markdown(path / "system", "system", SYSTEM_PROMPTS, locales)
    for (name, loc), template in prompts.items():
        unknown = template.fields - SYSTEM_FIELDS
        if unknown:
            raise PromptSetError(
                path / "system" / f"{name}.{loc}.md",
                name,
                f"unknown placeholder(s) {', '.join(sorted(unknown))}; available: {', '.join(sorted(SYSTEM_FIELDS))}",
            )
    for name in SYSTEM_PROMPTS:
        _same_fields(prompts, name, locales, {loc: path / "system" / f"{name}.{loc}.md" for loc in locales})
    return prompts


def _load_tasks(path: Path, locales: tuple[Locale, ...]) -> dict[tuple[str, Locale], _Template]:
    tasks = _load_markdown(path / "tasks", "task", tuple(TASK_PROMPTS), locales)
    for (name, loc), template in tasks.items():
        # the code fills exactly these: one missing would leave the model without its material
        if template.fields != TASK_PROMPTS[name]:
            expected_fields = ", ".join(sorted(TASK_PROMPTS[name])) or "none"
            raise PromptSetError(
                path / "tasks" / f"{name}.{loc}.md", name, f"placeholders must be exactly: {expected_fields}"
            )
    return tasks


def _load_markdown(
    folder: Path, kind: str, names: Sequence[str], locales: tuple[Locale, ...]
) -> dict[tuple[str, Locale], _Template]:
    """`<name>.<locale>.md` for every name and locale in `folder`: none missing or empty, nothing else there."""
    expected = {f"{name}.{loc}.md" for name in names for loc in locales}
    if folder.is_dir():
        for extra in sorted(p.name for p in folder.iterdir() if p.is_file() and p.name not in expected):
            raise PromptSetError(
                folder / extra,
                None,
                f"unknown {kind} prompt file; expected <name>.<locale>.md with name in "
                f"{', '.join(names)} and locale in {', '.join(locales)}",
            )
    templates: dict[tuple[str, Locale], _Template] = {}
    for name in names:
        for loc in locales:
            file = folder / f"{name}.{loc}.md"
            if not file.is_file():
                raise PromptSetError(file, name, f"missing {kind} prompt for {loc}")
            text = file.read_text(encoding="utf-8").strip()
            if not text:
                raise PromptSetError(file, name, f"{kind} prompt is empty")
            templates[(name, loc)] = _Template(text=text, fields=_placeholders(text, file, name))
    return templates


def _load_replies(path: Path, locales: tuple[Locale, ...]) -> dict[tuple[str, Locale], _Template]:
    files = {loc: path / f"replies.{loc}.yaml" for loc in locales}
    flat: dict[Locale, dict[str, str]] = {}
    for loc, file in files.items():
        if not file.is_file():
            raise PromptSetError(file, None, f"missing replies file for {loc}")
        data = _read_yaml(file)
        if not isinstance(data, dict):
            raise PromptSetError(file, None, "must be a mapping of reply keys to sentences")
        flat[loc] = _flatten(data, file)
    reference = locales[0]
    for loc in locales[1:]:
        for key in sorted(flat[reference].keys() - flat[loc].keys()):
            raise PromptSetError(files[loc], key, f"missing key (present in {files[reference].name})")
        for key in sorted(flat[loc].keys() - flat[reference].keys()):
            raise PromptSetError(files[reference], key, f"missing key (present in {files[loc].name})")
    replies: dict[tuple[str, Locale], _Template] = {}
    for loc in locales:
        for key, text in flat[loc].items():
            replies[(key, loc)] = _Template(text=text, fields=_placeholders(text, files[loc], key))
    for key in flat[reference]:
        _same_fields(replies, key, locales, files)
    return replies


def _load_routing(file: Path) -> dict[str, list[Example]]:
    if not file.is_file():
        raise PromptSetError(file, None, "missing routing examples")
    data = _read_yaml(file)
    if not isinstance(data, dict):
        raise PromptSetError(file, None, "must be a mapping {intent: [{text, locale}]}")
    routing: dict[str, list[Example]] = {}
    seen: dict[str, str] = {}
    for intent, raw in data.items():
        if intent not in INTENTS:
            raise PromptSetError(file, str(intent), f"unknown intent; intents are {', '.join(INTENTS)}")
        if not isinstance(raw, list) or not raw:
            raise PromptSetError(file, intent, "must be a non-empty list of {text, locale}")
        examples: list[Example] = []
        for index, item in enumerate(raw):
            try:
                example = Example.model_validate(item)
            except ValidationError as exc:
                raise PromptSetError(file, f"{intent}[{index}]", _pydantic_problem(exc)) from exc
            # the same sentence under two intents would teach the classifier a contradiction
            norm = " ".join(example.text.casefold().split())
            if norm in seen and seen[norm] != intent:
                raise PromptSetError(file, f"{intent}[{index}]", f"{example.text!r} is also labelled {seen[norm]!r}")
            seen[norm] = intent
            examples.append(example)
        routing[intent] = examples
    for intent in INTENTS:
        if intent not in routing:
            raise PromptSetError(file, intent, "no examples for this intent")
    return routing


def _same_fields(
    table: Mapping[tuple[str, Locale], _Template], key: str, locales: tuple[Locale, ...], files: Mapping[Locale, Path]
) -> None:
    reference = table[(key, locales[0])].fields
    for loc in locales[1:]:
        other = table[(key, loc)].fields
        for field in sorted(reference - other):
            raise PromptSetError(files[loc], key, f"placeholder {{{field}}} is used in {locales[0]} but not here")
        for field in sorted(other - reference):
            raise PromptSetError(files[loc], key, f"placeholder {{{field}}} is not used in {locales[0]}")


def _placeholders(text: str, file: Path, key: str) -> frozenset[str]:
    fields: set[str] = set()
    try:
        parsed = list(_FORMATTER.parse(text))
    except ValueError as exc:
        raise PromptSetError(file, key, f"malformed template ({exc}); write literal braces as {{{{ and }}}}") from exc
    for _, field, spec, conversion in parsed:
        if field is None:
            continue
        # plain names only: attribute/index access or format specs would let data reach into objects
        if not _IDENTIFIER.match(field) or spec or conversion:
            raise PromptSetError(file, key, f"placeholder {{{field}}} must be a plain {{name}}")
        fields.add(field)
    return frozenset(fields)


def _flatten(data: Mapping[Any, Any], file: Path, prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for raw_key, value in data.items():
        key = f"{prefix}{raw_key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, file, f"{key}."))
        elif isinstance(value, str):
            if not value.strip():
                raise PromptSetError(file, key, "reply is empty")
            flat[key] = value
        else:
            raise PromptSetError(file, key, f"reply must be a string, got {type(value).__name__}")
    return flat


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (YAML silently keeps the last one)."""


def _no_duplicates(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    keys: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in keys:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        keys.add(key)
    return loader.construct_mapping(node, deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


def _read_yaml(file: Path) -> Any:
    try:
        return yaml.load(file.read_text(encoding="utf-8"), Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        raise PromptSetError(file, None, f"invalid YAML: {exc}") from exc


def _pydantic_problem(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in err['loc']) or 'value'}: {err['msg']}" for err in exc.errors())


def _fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        rel = file.relative_to(path)
        if any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
            continue
        digest.update(rel.as_posix().encode())
        digest.update(b"\0")
        digest.update(file.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:12]
