"""Offline model text understanding (graph/offline/parse): yes/no, e-mail, CPF, CEP and names."""

from __future__ import annotations

import pytest

from graph.offline.parsing import (
    parse_cep,
    parse_cpf,
    parse_email,
    parse_name,
    parse_yes_no,
)

# ----------------------------------------------------------------------------- parse_yes_no


@pytest.mark.parametrize(
    "text",
    ["sim", "Sim!", "s", "S", "isso", "isso mesmo", "Isso mesmo!", "pode", "pode ser", "confirmo", "confirma",
     "ok", "OK", "okay", "beleza", "blz", "certo", "claro", "bora", "yes", "Yes!", "yep", "y", "sure",
     "correct", "👍", "👌", "✅", "sim, mas sem cebola", "simmm", "siiim", "ss", "yes please", "ta bom",
     "tá certo", "com certeza", "claro que sim", "pode sim", "acho que sim", "sem problema", "no problem",
     "isso aí", "fechado", "perfeito", "yeah sure", "sounds good", "sim 👍", "uhum", "aham", "show",
     "pode mandar", "exato", "that's right", "of course", "alright", "positivo", "sim por favor",
     "pode sim, obrigado", "confirmado!", "ok, pode fechar", "está tudo certo", "isso mesmo, pode mandar",
     "Sim sim", "SIM", "ctz", "ok 👍", "yes, but no onions", "Beleza, pode ser", "é isso", "quero sim",
     "s, pode ser", "manda ver"],
)  # fmt: skip
def test_parse_yes(text: str) -> None:
    assert parse_yes_no(text) is True


@pytest.mark.parametrize(
    "text",
    ["não", "nao", "Não!", "n", "N", "nn", "errado", "cancela", "no", "nope", "wrong", "nãooo",
     "nao, obrigado", "não quero", "claro que não", "acho que não", "pode cancelar", "ta errado", "👎",
     "❌", "nah", "no thanks", "cancelar pedido", "negativo", "nada", "not really", "nao, quero mudar",
     "Não obrigado", "No, that's wrong", "nope, cancel", "não é isso", "nao quero nada", "NAO"],
)  # fmt: skip
def test_parse_no(text: str) -> None:
    assert parse_yes_no(text) is False


@pytest.mark.parametrize(
    "text",
    ["", "   ", "quero uma pizza", "qual o valor?", "talvez", "não sei", "sei lá", "maybe", "idk",
     "pizza", "123", "Rua das Flores 123", "kkkk", "só isso", "asdkjhasd", "hmm", "👍👎", "quero"],
)  # fmt: skip
def test_parse_yes_no_undecided(text: str) -> None:
    assert parse_yes_no(text) is None


# ----------------------------------------------------------------------------- e-mail, CPF, CEP


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("joao@gmail.com", "joao@gmail.com"),
        ("meu email é Joao.Silva@Gmail.com.", "joao.silva@gmail.com"),
        ("email: FOO+bar@sub.dominio.com.br, obrigado", "foo+bar@sub.dominio.com.br"),
        ("maria_souza-1@empresa.com.br", "maria_souza-1@empresa.com.br"),
        ("a@b.co", "a@b.co"),
        ("<ana@uol.com.br>", "ana@uol.com.br"),
        ("joao@gmail", None),
        ("joao gmail.com", None),
        ("joao@@gmail.com", None),
        ("x..y@a.com", None),
        (".joao@gmail.com", None),
        ("joao@-gmail.com", None),
        ("", None),
        ("quero uma pizza", None),
        # a non-ASCII local part is a valid address (SMTPUTF8): it used to be cut to "o@exemplo.com.br"
        ("joão@exemplo.com.br", "joão@exemplo.com.br"),
        ("meu email é José.Araújo@empresa.com.br, valeu", "josé.araújo@empresa.com.br"),
    ],
)
def test_parse_email(text: str, expected: str | None) -> None:
    assert parse_email(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("123.456.789-09", "12345678909"),
        ("12345678909", "12345678909"),
        ("123 456 789 09", "12345678909"),
        ("meu cpf eh 529.982.247-25", "52998224725"),
        ("CPF: 529982247-25 obrigado", "52998224725"),
        ("123.456.789-00", None),
        ("111.111.111-11", None),
        ("000.000.000-00", None),
        ("1234567890", None),
        ("123456789091", None),
        ("", None),
        ("não tenho", None),
    ],
)
def test_parse_cpf(text: str, expected: str | None) -> None:
    assert parse_cpf(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("01310-100", "01310-100"),
        ("01310100", "01310-100"),
        ("CEP: 01.310-100", "01310-100"),
        ("meu cep é 04538-133", "04538-133"),
        ("Rua X 123, 04538133", "04538-133"),
        ("cep 00000-000", None),
        ("123", None),
        ("013101000", None),
        ("0131-0100", None),
        ("", None),
    ],
)
def test_parse_cep(text: str, expected: str | None) -> None:
    assert parse_cep(text) == expected


# ----------------------------------------------------------------------------- parse_name


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("meu nome é João Silva", "João Silva"),
        ("meu nome e joao silva", "Joao Silva"),
        ("sou a maria", "Maria"),
        ("Sou o Carlos", "Carlos"),
        ("João", "João"),
        ("my name is John Smith", "John Smith"),
        ("pode me chamar de Zé", "Zé"),
        ("joão da silva", "João da Silva"),
        ("Oi, meu nome é Ana Paula", "Ana Paula"),
        ("Boa noite, aqui é a Fernanda", "Fernanda"),
        ("JOSE CARLOS", "Jose Carlos"),
        ("Maria Clara aqui", "Maria Clara"),
        ("i'm Peter", "Peter"),
        ("I am Mary Jane", "Mary Jane"),
        ("this is Mary", "Mary"),
        ("me chamo carlos e quero uma pizza", "Carlos"),
        ("é o Pedro", "Pedro"),
        ("Ana-Clara d'Ávila", "Ana-Clara d'Ávila"),
        ("thiago", "Thiago"),
        ("Maria Eduarda dos Santos Pereira", "Maria Eduarda dos Santos Pereira"),
        ("nome: Lucas", "Lucas"),
        ("meu nome é Ana.", "Ana"),
        ("João Silva\n?", "João Silva"),  # a nudge in the same turn
    ],
)
def test_parse_name(text: str, expected: str) -> None:
    assert parse_name(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "   ", "quero pizza", "quero uma pizza de calabresa", "sim", "não", "ok", "123", "João 123",
     "joao@gmail.com", "Rua das Flores 123", "Rua das Flores", "um dois tres quatro cinco seis",
     "Ana Maria Clara Souza Lima Pereira", "oi", "olá", "bom dia", "boa noite", "hello", "obrigado",
     "cardapio", "asdkjh", "meu nome é", "sou de SP", "i am hungry", "sou vegetariano", "pix", "👍",
     "cadê meu pedido?", "tá chegando?"],
)  # fmt: skip
def test_parse_name_rejects(text: str) -> None:
    assert parse_name(text) is None
