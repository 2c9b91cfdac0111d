"""The forms of a secret every sink hides: literal lines, base64, base64url, hex,
and the value inside a longer base64 stream at each of its three alignments."""

from __future__ import annotations

import base64
import os
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci_bot.secrets.masking import LiveMasker, Masker, encoded_forms, text_masker, value_forms

TOKEN = "tok>>>???-s3cr3t-ü"  # its base64 holds both + and /, so base64url differs
RAW = TOKEN.encode()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()


FORMS = {
    "literal": TOKEN,
    "base64": base64.b64encode(RAW).decode(),
    "base64 unpadded": base64.b64encode(RAW).decode().rstrip("="),
    "base64 of echo": base64.b64encode(RAW + b"\n").decode(),
    "base64url": b64url(RAW),
    "base64url unpadded": b64url(RAW).rstrip("="),
    "hex": RAW.hex(),
    "HEX": RAW.hex().upper(),
    "od -tx1": RAW.hex(" "),
}


def test_the_token_exercises_both_base64_alphabets() -> None:
    assert {"+", "/"} <= set(FORMS["base64"]) and FORMS["base64"] != FORMS["base64url"]


@pytest.mark.parametrize("form", FORMS.values(), ids=FORMS.keys())
def test_each_form_is_hidden_wherever_it_sits(form: str) -> None:
    hidden = Masker([TOKEN]).hide(f"before {form} after")
    assert hidden == "before *** after"


@pytest.mark.parametrize("before", range(6))
@pytest.mark.parametrize("after", range(4))
@pytest.mark.parametrize("encode", [base64.b64encode, base64.urlsafe_b64encode])
def test_the_value_inside_a_longer_base64_stream_is_hidden_at_every_alignment(
    before: int, after: int, encode: object
) -> None:
    data = os.urandom(before) + RAW + os.urandom(after)
    stream = encode(data).decode()  # type: ignore[operator]
    hidden = Masker([TOKEN]).hide(stream)
    assert hidden.count("***") == 1
    # Hidden: all of the value's encoding but the characters it shares with neighbours.
    hidden_chars = len(stream) - (len(hidden) - 3)
    assert hidden_chars >= len(RAW) * 8 // 6 - 2


def test_a_multiline_value_is_hidden_line_by_line_and_as_a_whole() -> None:
    key = "-----BEGIN KEY-----\nAAAAB3NzaC1yc2E\n-----END KEY-----"
    masker = Masker([key])
    assert masker.hide("AAAAB3NzaC1yc2E\n-----END KEY-----") == "***\n***"
    assert masker.hide(base64.b64encode(key.encode()).decode()) == "***"


def test_short_forms_are_not_hidden_and_ordinary_text_is_left_alone() -> None:
    assert all(len(form) >= 6 for form in encoded_forms("abcd"))
    assert Masker(["abcd"]).hide("an abc and abcd") == "an abc and ***"
    assert Masker([]).hide("nothing to hide") == "nothing to hide"


def test_bytes_and_spans_agree_with_text() -> None:
    masker = Masker([TOKEN])
    data = f"x{FORMS['hex']}y{TOKEN}z".encode()
    assert masker.hide_bytes(data) == masker.hide(data.decode()).encode() == b"x***y***z"
    assert len(list(masker.spans(data, 0, len(data)))) == 2
    assert masker.longest == max(len(form.encode()) for form in FORMS.values())


@given(
    values=st.lists(st.text(alphabet="ab+/=\n\u00e9", min_size=3, max_size=9), max_size=3),
    text=st.text(alphabet="abYWJi+/=\n\u00e9", max_size=80),
)
def test_the_trie_hides_exactly_what_a_longest_first_alternation_would(
    values: list[str], text: str
) -> None:
    forms = sorted({f for v in values for f in value_forms(v)}, key=len, reverse=True)
    flat = re.compile("|".join(map(re.escape, forms))) if forms else None
    for value in values:  # plant a few forms among the noise
        text += "".join(sorted(value_forms(value))[:2])
    expected = flat.sub("***", text) if flat else text
    assert Masker(values).hide(text) == expected


@given(
    values=st.lists(st.text(alphabet="ab+/=\n\u00e9\\.*", min_size=3, max_size=9), max_size=3),
    data=st.binary(max_size=80),
    planted=st.integers(0, 5),
)
def test_the_fast_search_finds_a_form_exactly_where_re_does(
    values: list[str], data: bytes, planted: int
) -> None:
    forms = sorted({f.encode() for v in values for f in value_forms(v)})
    data += b"".join(forms[:planted])  # raw bytes, invalid UTF-8 too
    masker = Masker(values)
    flat = re.compile(b"|".join(map(re.escape, forms))) if forms else None

    assert masker.occurs_in(data) == (flat is not None and flat.search(data) is not None)


def test_re2_is_there_for_the_fast_search() -> None:
    """google-re2 is a dependency; without it masking is right, only slower."""
    assert Masker(["a-secret"])._search is not None


class Store:
    def __init__(self) -> None:
        self.values: list[str] = []

    def all_values(self) -> list[str]:
        return list(self.values)


def test_a_live_masker_follows_the_store() -> None:
    store = Store()
    hide = LiveMasker(store)
    assert hide(f"a {TOKEN}") == f"a {TOKEN}"
    store.values.append(TOKEN)
    assert hide(f"a {FORMS['base64url']}") == "a ***"
    assert text_masker({"T": TOKEN})(TOKEN) == "***"
    assert text_masker(None)(TOKEN) == TOKEN
