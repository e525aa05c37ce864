"""Delivery addresses in free text."""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from graph.language import fold
from graph.offline.parse.contact import _find_cep
from graph.offline.parse.text import _NOT_PLACE, _NOT_STREET, _STREET_TYPES, _phrases

# ----------------------------------------------------------------------------- address


class AddressParts(BaseModel):
    """Pieces of a Brazilian delivery address; values keep the customer's casing and accents."""

    model_config = ConfigDict(frozen=True)

    street: str | None = None
    number: str | None = None
    complement: str | None = None
    neighborhood: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    reference: str | None = None

    def missing(self) -> list[str]:
        """Required fields still missing, among street, number and neighborhood."""
        return [f for f in ("street", "number", "neighborhood") if getattr(self, f) is None]


_UFS = frozenset("AC AL AP AM BA CE DF ES GO MA MT MS MG PA PB PR PE PI RJ RN RS RO RR SC SP SE TO".split())
_COMPLEMENT_WORDS = frozenset(
    "apto apt ap apartamento aptos bloco bl blc casa cs fundos sala sl conjunto conj cj loja lj "
    "andar torre lote lt quadra qd edificio ed edif condominio cond kitnet kit sobrado terreo "
    "cobertura box galpao predio".split()
)
_COMPLEMENT_NO_VALUE = frozenset("fundos sobrado terreo cobertura kitnet".split())
_NUMBER_MARKERS = frozenset("n no n. nro nr num numero ndeg #".split())
_REFERENCE_STARTS = _phrases(
    "perto|proximo|proxima|ao lado|do lado|em frente|na frente|de frente|frente|atras|esquina|"
    "ref|referencia|ponto de referencia|depois do|depois da|antes do|antes da|entre|near|next to|"
    "across|behind|opposite|in front|close to"
)
_ADDRESS_PREFIX_WORDS = frozenset(
    "meu minha endereco e eh na no em moro mora fica entrega entregar pode ser my address is its "
    "at on the aqui eu sera vai o a ta esta".split()
)
_KNOWN_CITIES = frozenset(
    {
        "sao paulo", "rio de janeiro", "belo horizonte", "curitiba", "porto alegre", "salvador",
        "recife", "fortaleza", "brasilia", "manaus", "belem", "goiania", "campinas", "florianopolis",
        "vitoria", "natal", "joao pessoa", "maceio", "aracaju", "teresina", "sao luis", "cuiaba",
        "campo grande", "porto velho", "rio branco", "macapa", "boa vista", "palmas", "guarulhos",
        "niteroi", "santos", "osasco", "sao bernardo do campo", "santo andre", "ribeirao preto",
        "sorocaba", "uberlandia", "juiz de fora", "londrina", "joinville", "contagem",
        "sao jose dos campos", "jundiai", "piracicaba", "bauru", "maringa", "blumenau", "caxias do sul",
        "pelotas", "feira de santana", "duque de caxias", "nova iguacu", "sao goncalo", "barueri",
    }
)  # fmt: skip
_ADDR_NUMBER_RE = re.compile(r"^\d{1,6}(?:-?[a-z])?$")
_ADDR_SN_RE = re.compile(r"^s/?n(?:o|deg)?\.?$")
_ADDR_GLUED_NUMBER_RE = re.compile(r"^(?:n|no|ndeg|nro|num|numero|#)\.?(\d{1,6}[a-z]?)$")
_COMPLEMENT_VALUE_RE = re.compile(r"^(?:\d{1,5}[a-z]?|[a-z]|[a-z]\d{1,4}|\d{1,3}o|[ivx]{1,4})$")


def _addr_key(token: str) -> str:
    return fold(token).strip(".,:;()\"'")


def _clean_value(tokens: Sequence[str]) -> str | None:
    value = " ".join(tokens).strip(" ,;:-")
    if value.endswith(".") and len(tokens) > 1:
        value = value.rstrip(".")
    return value or None


def _number_at(keys: Sequence[str], i: int) -> tuple[int, int] | None:
    """(index of the number token, tokens consumed) when an address number starts at i."""
    k = keys[i]
    if _ADDR_NUMBER_RE.match(k) or _ADDR_SN_RE.match(k) or _ADDR_GLUED_NUMBER_RE.match(k):
        return i, 1
    nxt = keys[i + 1] if i + 1 < len(keys) else ""
    if k in _NUMBER_MARKERS and (_ADDR_NUMBER_RE.match(nxt) or _ADDR_SN_RE.match(nxt)):
        return i + 1, 2
    if k == "sem" and nxt == "numero":
        return i, 2
    return None


def _number_text(tokens: Sequence[str], keys: Sequence[str], idx: int, used: int) -> str:
    k = keys[idx]
    if k == "sem":
        return "s/n"
    glued = _ADDR_GLUED_NUMBER_RE.match(k)
    if glued and not _ADDR_NUMBER_RE.match(k):
        return glued.group(1).upper() if glued.group(1)[-1:].isalpha() else glued.group(1)
    return tokens[idx].strip(".,;:")


def _could_be_street_name(words: Sequence[str]) -> bool:
    """Whether words without a street type ("Augusta", "Paulista") can name a street ("quero 2" cannot)."""
    keys = [_addr_key(w) for w in words]
    if not keys or len(keys) > 5 or any(k.startswith("x-") for k in keys):
        return False
    return not any(k in _NOT_STREET for k in keys)


def _could_be_place(value: str) -> bool:
    """Whether leftover text can be a neighborhood, city or reference ("Bom Retiro" yes, "quero pizza" no)."""
    keys = [_addr_key(w) for w in value.split()]
    if not keys or "@" in value:
        return False
    return not any(k in _NOT_PLACE or k.startswith("x-") for k in keys)


def _known_city_suffix(keys: Sequence[str]) -> int:
    """How many trailing tokens spell a known city (0 if none)."""
    for size in range(min(5, len(keys)), 0, -1):
        if " ".join(keys[-size:]) in _KNOWN_CITIES:
            return size
    return 0


def _reference_index(keys: Sequence[str]) -> int | None:
    for i in range(len(keys)):
        if any(tuple(keys[i : i + len(p)]) == p for p in _REFERENCE_STARTS):
            # "frente" alone is too loose in the middle of a street name
            if keys[i] == "frente" and i > 0 and keys[i - 1] not in {"em", "na", "de"}:
                continue
            return i
    return None


class _AddressBuilder:
    def __init__(self) -> None:
        self.fields: dict[str, str | None] = dict.fromkeys(AddressParts.model_fields)
        self.free: list[tuple[int, str]] = []
        self.references: list[str] = []
        self.complements: list[str] = []
        self.state_segment: int | None = None
        self.number_segment: int | None = None

    def set(self, name: str, value: str | None) -> None:
        if value and self.fields[name] is None:
            self.fields[name] = value

    def tail(self, tokens: list[str], seg: int) -> None:
        """Complement, neighborhood and reference found after the street and number."""
        keys = [_addr_key(t) for t in tokens]
        ref = _reference_index(keys)
        if ref is not None:
            value = _clean_value(tokens[ref:])
            if value:
                self.references.append(value)
            tokens, keys = tokens[:ref], keys[:ref]
        i = 0
        comp: list[str] = []
        while i < len(keys):
            k = keys[i]
            nxt = keys[i + 1] if i + 1 < len(keys) else ""
            if k in _COMPLEMENT_WORDS:
                comp.append(tokens[i])
                i += 1
                if k not in _COMPLEMENT_NO_VALUE and i < len(keys) and _COMPLEMENT_VALUE_RE.match(keys[i]):
                    comp.append(tokens[i])
                    i += 1
                continue
            if re.match(r"^\d{1,3}(?:o|a|deg)?$", k) and nxt == "andar":
                comp.extend(tokens[i : i + 2])
                i += 2
                continue
            break
        if comp:
            value = _clean_value(comp)
            if value:
                self.complements.append(value)
        rest = tokens[i:]
        rest_keys = keys[i:]
        if len(rest) > 1 and rest_keys[-1].upper() in _UFS and rest_keys[-2] not in _COMPLEMENT_WORDS:
            city_len = _known_city_suffix(rest_keys[:-1])
            if rest[-1].isupper() or city_len:
                self.set("state", rest_keys[-1].upper())
                rest, rest_keys = rest[:-1], rest_keys[:-1]
        city_len = _known_city_suffix(rest_keys)
        if city_len and city_len < len(rest):
            self.set("city", _clean_value(rest[-city_len:]))
            rest, rest_keys = rest[:-city_len], rest_keys[:-city_len]
        if not rest:
            return
        if rest_keys[0] == "bairro":
            self.set("neighborhood", _clean_value(rest[1:]))
            return
        if rest_keys[0] == "cep":
            return
        value = _clean_value(rest)
        if value:
            self.free.append((seg, value))

    def street_segment(self, tokens: list[str], start: int, seg: int, typed: bool = True) -> None:
        keys = [_addr_key(t) for t in tokens]
        name: list[str] = [tokens[start]]
        i = start + 1
        if typed and i < len(keys) and keys[i].isdigit():
            # "Rua 10", "Avenida 23 de Maio": a number right after the type names the street
            name.append(tokens[i])
            i += 1
        while i < len(keys):
            k = keys[i]
            nxt = keys[i + 1] if i + 1 < len(keys) else ""
            if k.isdigit() and nxt in {"de", "do", "da"}:
                name.append(tokens[i])
                i += 1
                continue
            found = _number_at(keys, i)
            if found:
                idx, used = found
                self.set("street", _clean_value(name))
                if self.fields["number"] is None:
                    self.fields["number"] = _number_text(tokens, keys, idx, used)
                    self.number_segment = seg
                self.tail(tokens[i + used :], seg)
                return
            if k in _COMPLEMENT_WORDS or _reference_index(keys[i : i + 3]) == 0 or k == "bairro":
                break
            name.append(tokens[i])
            i += 1
        self.set("street", _clean_value(name))
        self.tail(tokens[i:], seg)

    def segment(self, text: str, seg: int, last_segment: bool = False) -> None:
        tokens = text.split()
        if not tokens:
            return
        keys = [_addr_key(t) for t in tokens]
        # "Campinas/SP" and "São Paulo SP"
        last = tokens[-1]
        slash = re.match(r"^(.*\S)/([A-Za-z]{2})\.?$", last)
        if slash and slash.group(2).upper() in _UFS and not _ADDR_SN_RE.match(keys[-1]):
            self.set("state", slash.group(2).upper())
            self.state_segment = seg
            tokens = [*tokens[:-1], slash.group(1)]
            keys = [_addr_key(t) for t in tokens]
            self.set("city", _clean_value(tokens))
            return
        bare = tokens[0].strip(".")
        if len(tokens) == 1 and bare.upper() in _UFS and (bare.isupper() or last_segment):
            self.set("state", bare.upper())
            self.state_segment = seg
            return
        if len(tokens) > 1 and last.strip(".") in _UFS and keys[0] not in _STREET_TYPES:
            if keys[-2] not in _COMPLEMENT_WORDS:
                self.set("state", last.strip("."))
                self.state_segment = seg
                self.set("city", _clean_value(tokens[:-1]))
                return
        if keys[0] == "cep":
            return
        if keys[0] == "cidade":
            self.set("city", _clean_value(tokens[1:]))
            return
        if keys[0] == "bairro":
            self.set("neighborhood", _clean_value(tokens[1:]))
            return
        if _reference_index(keys[:3]) == 0:
            self.tail(tokens, seg)
            return
        if self.fields["street"] is None:
            for i, k in enumerate(keys[:6]):
                only_prefix = all(x in _ADDRESS_PREFIX_WORDS for x in keys[:i])
                if k in _STREET_TYPES and i + 1 < len(keys) and only_prefix:
                    self.street_segment(tokens, i, seg)
                    return
        if self.fields["number"] is None:
            found = _number_at(keys, 0)
            if found:
                idx, used = found
                self.fields["number"] = _number_text(tokens, keys, idx, used)
                self.number_segment = seg
                self.tail(tokens[used:], seg)
                return
            if self.fields["street"] is None and seg == 0:
                # "augusta 500 consolação": no street type, but words then a number
                for i in range(1, len(keys)):
                    hit = _number_at(keys, i)
                    if hit and not any(_number_at(keys, j) for j in range(i)):
                        if _could_be_street_name(keys[:i]):
                            self.street_segment(tokens, 0, seg, typed=False)
                            return
                        break
        self.tail(tokens, seg)

    def build(self) -> AddressParts:
        free = [(seg, value) for seg, value in self.free if _could_be_place(value)]
        if self.fields["city"] is None and free:
            city_idx: int | None = None
            if self.state_segment is not None:
                for j, (seg, _) in enumerate(free):
                    if seg == self.state_segment - 1:
                        city_idx = j
            if city_idx is None:
                for j, (_, value) in enumerate(free):
                    if _addr_key(value) in _KNOWN_CITIES and (len(free) > 1 or self.fields["neighborhood"]):
                        city_idx = j
            if city_idx is not None:
                self.fields["city"] = free.pop(city_idx)[1]
        if self.fields["street"] is None and free and self.number_segment is not None:
            # "Paulista, 1000": the words before the number are the street
            if free[0][0] < self.number_segment and _could_be_street_name(free[0][1].split()):
                self.fields["street"] = free.pop(0)[1]
        if free and self.fields["neighborhood"] is None:
            self.fields["neighborhood"] = free.pop(0)[1]
        self.references.extend(value for _, value in free)
        if self.complements:
            self.fields["complement"] = ", ".join(self.complements)
        if self.references:
            self.fields["reference"] = ", ".join(self.references)
        return AddressParts(**self.fields)


def parse_address(text: str) -> AddressParts:
    """Split a free-text Brazilian address into street, number, complement, neighborhood, city, etc."""
    builder = _AddressBuilder()
    if not text or not text.strip():
        return builder.build()
    text = re.sub(r"[–—]", "-", text)
    cep = _find_cep(text)
    if cep:
        a, b, c = cep.groups()
        builder.fields["postal_code"] = f"{a}{b}-{c}"
        text = text[: cep.start()] + " " + text[cep.end() :]
        text = re.sub(r"\bCEP\b:?", " ", text, flags=re.IGNORECASE)
    segments = [s.strip() for s in re.split(r"\s*[,;\n|]\s*|\s+-+\s+|\s+-+$|^-+\s+", text)]
    segments = [s for s in segments if s and s.strip(" .-")]
    for seg, piece in enumerate(segments):
        builder.segment(piece, seg, last_segment=seg == len(segments) - 1)
    return builder.build()
