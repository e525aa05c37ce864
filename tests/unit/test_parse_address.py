"""Offline model text understanding (graph/offline/parse): delivery addresses."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from graph.offline.parsing import (
    AddressParts,
    parse_address,
)

# ----------------------------------------------------------------------------- parse_address


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Rua das Flores, 123, Apto 45, Jardim Primavera",
            {
                "street": "Rua das Flores",
                "number": "123",
                "complement": "Apto 45",
                "neighborhood": "Jardim Primavera",
            },
        ),
        (
            "Av. Paulista 1578 ap 12 - Bela Vista, São Paulo - SP, 01310-200",
            {
                "street": "Av. Paulista",
                "number": "1578",
                "complement": "ap 12",
                "neighborhood": "Bela Vista",
                "city": "São Paulo",
                "state": "SP",
                "postal_code": "01310-200",
            },
        ),
        (
            "rua augusta 500 consolação",
            {
                "street": "rua augusta",
                "number": "500",
                "neighborhood": "consolação",
            },
        ),
        (
            "Alameda Santos, 45, bloco B apto 3, Cerqueira César, perto do metrô",
            {
                "street": "Alameda Santos",
                "number": "45",
                "complement": "bloco B apto 3",
                "neighborhood": "Cerqueira César",
                "reference": "perto do metrô",
            },
        ),
        (
            "123",
            {
                "number": "123",
            },
        ),
        ("", {}),
        (
            "Rua 25 de Março, 300, Centro",
            {
                "street": "Rua 25 de Março",
                "number": "300",
                "neighborhood": "Centro",
            },
        ),
        (
            "Rua Sete de Setembro s/n, Centro",
            {
                "street": "Rua Sete de Setembro",
                "number": "s/n",
                "neighborhood": "Centro",
            },
        ),
        (
            "R. Oscar Freire, nº 900 - Jardins",
            {
                "street": "R. Oscar Freire",
                "number": "900",
                "neighborhood": "Jardins",
            },
        ),
        (
            "moro na rua das laranjeiras 45 casa 2 botafogo rio de janeiro rj",
            {
                "street": "rua das laranjeiras",
                "number": "45",
                "complement": "casa 2",
                "neighborhood": "botafogo",
                "city": "rio de janeiro",
                "state": "RJ",
            },
        ),
        (
            "Avenida Brasil 1500, Centro, Campinas/SP",
            {
                "street": "Avenida Brasil",
                "number": "1500",
                "neighborhood": "Centro",
                "city": "Campinas",
                "state": "SP",
            },
        ),
        (
            "Travessa do Ouvidor, 12 fundos, Centro",
            {
                "street": "Travessa do Ouvidor",
                "number": "12",
                "complement": "fundos",
                "neighborhood": "Centro",
            },
        ),
        (
            "meu endereço é Rua Harmonia, 300 apto 12 bloco A, Vila Madalena, CEP 05435-000",
            {
                "street": "Rua Harmonia",
                "number": "300",
                "complement": "apto 12 bloco A",
                "neighborhood": "Vila Madalena",
                "postal_code": "05435-000",
            },
        ),
        (
            "Rua 10, 250, Setor Oeste, Goiânia - GO",
            {
                "street": "Rua 10",
                "number": "250",
                "neighborhood": "Setor Oeste",
                "city": "Goiânia",
                "state": "GO",
            },
        ),
        (
            "Estrada do Campo Limpo 2000 casa 3 - Campo Limpo",
            {
                "street": "Estrada do Campo Limpo",
                "number": "2000",
                "complement": "casa 3",
                "neighborhood": "Campo Limpo",
            },
        ),
        (
            "Praça da Sé, 100 - Sé, São Paulo/SP",
            {
                "street": "Praça da Sé",
                "number": "100",
                "neighborhood": "Sé",
                "city": "São Paulo",
                "state": "SP",
            },
        ),
        (
            "Rua X 10, Vila Mariana, portão verde",
            {
                "street": "Rua X",
                "number": "10",
                "neighborhood": "Vila Mariana",
                "reference": "portão verde",
            },
        ),
        (
            "Paulista, 1000",
            {
                "street": "Paulista",
                "number": "1000",
            },
        ),
        (
            "Bela Vista",
            {
                "neighborhood": "Bela Vista",
            },
        ),
        (
            "perto do mercado",
            {
                "reference": "perto do mercado",
            },
        ),
        (
            "av brasil 200 bairro centro",
            {
                "street": "av brasil",
                "number": "200",
                "neighborhood": "centro",
            },
        ),
        (
            "Rua Bahia 45A, Higienópolis",
            {
                "street": "Rua Bahia",
                "number": "45A",
                "neighborhood": "Higienópolis",
            },
        ),
        ("Rua Dr. Arnaldo, 455", {"street": "Rua Dr. Arnaldo", "number": "455"}),
        (
            "Av. Brig. Faria Lima, 3477 - 14º andar - Itaim Bibi",
            {
                "street": "Av. Brig. Faria Lima",
                "number": "3477",
                "complement": "14º andar",
                "neighborhood": "Itaim Bibi",
            },
        ),
        (
            "Rua Augusta, 1500 apto 52 - Consolação - São Paulo",
            {
                "street": "Rua Augusta",
                "number": "1500",
                "complement": "apto 52",
                "neighborhood": "Consolação",
                "city": "São Paulo",
            },
        ),
        (
            "Av Sete de Setembro 1234, Centro, Salvador BA",
            {
                "street": "Av Sete de Setembro",
                "number": "1234",
                "neighborhood": "Centro",
                "city": "Salvador",
                "state": "BA",
            },
        ),
        (
            "rua tiradentes, numero 45, centro",
            {"street": "rua tiradentes", "number": "45", "neighborhood": "centro"},
        ),
        (
            "Rua São Bento 300 loja 2 Centro",
            {"street": "Rua São Bento", "number": "300", "complement": "loja 2", "neighborhood": "Centro"},
        ),
        (
            "Av. Atlântica, 1702, Copacabana, Rio de Janeiro - RJ, 22021-001",
            {
                "street": "Av. Atlântica",
                "number": "1702",
                "neighborhood": "Copacabana",
                "city": "Rio de Janeiro",
                "state": "RJ",
                "postal_code": "22021-001",
            },
        ),
        (
            "Rua das Acácias, 77 - Jardim das Flores - ao lado da padaria",
            {
                "street": "Rua das Acácias",
                "number": "77",
                "neighborhood": "Jardim das Flores",
                "reference": "ao lado da padaria",
            },
        ),
        (
            "Rodovia Raposo Tavares, km 20",
            {
                "street": "Rodovia Raposo Tavares",
                "neighborhood": "km 20",
            },
        ),
    ],
)
def test_parse_address(text: str, expected: dict[str, str]) -> None:
    assert parse_address(text).model_dump(exclude_none=True) == expected


@pytest.mark.parametrize(
    "text",
    ["quero 2 pizzas", "2 x-salada sem cebola", "troco pra 50", "sim", "pix", "me ve 2 coca", "x-tudo 2",
     "João", "meu nome é João Silva", "joao@gmail.com", "123.456.789-09", "pizza calabresa 1"],
)  # fmt: skip
def test_parse_address_ignores_messages_that_are_not_addresses(text: str) -> None:
    parts = parse_address(text)
    assert parts.street is None
    assert parts.city is None
    assert parts.reference is None


def test_parse_address_missing_fields() -> None:
    assert parse_address("").missing() == ["street", "number", "neighborhood"]
    assert parse_address("123").missing() == ["street", "neighborhood"]
    assert parse_address("Paulista, 1000").missing() == ["neighborhood"]
    assert parse_address("Rua das Flores, 123, Apto 45, Jardim Primavera").missing() == []
    # city and state are optional: the restaurant's city is assumed
    assert parse_address("rua augusta 500 consolação").missing() == []


def test_address_parts_is_frozen() -> None:
    parts = parse_address("Rua das Flores, 123")
    assert isinstance(parts, AddressParts)
    with pytest.raises(ValidationError):
        parts.number = "124"  # type: ignore[misc]
