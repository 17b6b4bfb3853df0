"""Prompt templates: rendering per direction, normalisation, hashes, the registry and its errors."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imkerutils.errors import ImkerError, InvalidDirectionError, InvalidTemplateError, UnknownTemplateError
from imkerutils.exquisite.geometry.direction import Direction
from imkerutils.exquisite.prompt import (
    DEFAULT_TEMPLATE,
    PromptTemplate,
    available_templates,
    get_template,
    normalize_user_prompt,
    prompt_sha256,
    render,
)
from imkerutils.exquisite.prompt import templates as templates_module

SIMPLE = PromptTemplate(name="simple", version=3, text="grow $toward: $user_prompt", empty_prompt="more")


def independent_hash(name: str, version: int, text: str) -> str:
    return hashlib.sha256(f"{name}/{version}\n{text}".encode()).hexdigest()


# --- rendering ---------------------------------------------------------------------------------------


def test_render_fills_every_placeholder_and_hashes_name_version_and_text():
    r = render(SIMPLE, "a red barn", Direction.LEFT)
    assert r.text == "grow to the left: a red barn"
    assert (r.template_name, r.template_version, r.user_prompt) == ("simple", 3, "a red barn")
    assert r.sha256 == hashlib.sha256(b"simple/3\ngrow to the left: a red barn").hexdigest()


def test_published_extend_v1_is_frozen():
    # extend/1 is published: its rendered text (hence this hash) must never change. Add extend/2 instead.
    r = render(get_template("extend", 1), "a red barn", "right")
    assert r.sha256 == "a9b133e8572a725bc3138199f6fdf1ffa7ba32efeec61d641b6a08d6534aaec2"
    assert r.sha256 == independent_hash("extend", 1, r.text)


def test_same_text_under_another_template_name_or_version_hashes_differently():
    a = PromptTemplate(name="a", version=1, text="$user_prompt")
    b = PromptTemplate(name="b", version=1, text="$user_prompt")
    a2 = PromptTemplate(name="a", version=2, text="$user_prompt")
    ra, rb, ra2 = (render(t, "sea", "up") for t in (a, b, a2))
    assert ra.text == rb.text == ra2.text == "sea"
    assert len({ra.sha256, rb.sha256, ra2.sha256}) == 3


@pytest.mark.parametrize(
    ("direction", "toward", "kept", "new"),
    [
        ("right", "to the right", "left half", "right half"),
        ("left", "to the left", "right half", "left half"),
        ("up", "upward", "bottom half", "top half"),
        ("down", "downward", "top half", "bottom half"),
    ],
)
def test_each_direction_names_its_own_side(direction, toward, kept, new):
    # The seed project said "to the right" for every direction; each must say its own.
    t = PromptTemplate(name="sides", version=1, text="$direction|$toward|$kept_half|$new_half|$user_prompt")
    assert render(t, "x", direction).text == f"{direction}|{toward}|{kept}|{new}|x"
    full = render(get_template(), "x", direction).text
    assert f"extended {toward}." in full
    assert f"The {kept} holds real pixels" in full
    assert f"masked {new}" in full


def test_default_template_says_what_the_model_must_do():
    text = render(DEFAULT_TEMPLATE, "", "right").text.lower()
    for phrase in ("seam", "lighting", "perspective", "style", "border", "frame", "text", "watermark"):
        assert phrase in text


def test_direction_is_parsed_from_any_case_and_rejected_when_unknown():
    assert render(SIMPLE, "x", "UP").text == render(SIMPLE, "x", Direction.UP).text
    with pytest.raises(InvalidDirectionError):
        render(SIMPLE, "x", "north")


def test_empty_or_blank_prompt_gives_the_neutral_instruction():
    assert render(SIMPLE, "", "down").text == "grow downward: more"
    assert render(SIMPLE, " \r\n\t", "down") == render(SIMPLE, "", "down")
    neutral = render(get_template(), "", "right")
    assert neutral.user_prompt == ""
    assert neutral.text.endswith(DEFAULT_TEMPLATE.empty_prompt)


def test_user_text_with_dollars_and_braces_is_inserted_verbatim():
    prompt = "cost $toward {user_prompt} $$ ${x} {0}"
    assert render(SIMPLE, prompt, "right").text == f"grow to the right: {prompt}"


def test_prompts_that_look_the_same_hash_the_same():
    a = render(SIMPLE, "  cafe\u0301 by the sea\r\nat dusk\n", "right")
    b = render(SIMPLE, "caf\u00e9 by the sea\nat dusk", "right")
    assert a == b
    assert a.user_prompt == "caf\u00e9 by the sea\nat dusk"


def test_normalize_rejects_non_strings():
    with pytest.raises(TypeError, match="str"):
        normalize_user_prompt(None)  # type: ignore[arg-type]


@given(prompt=st.text(max_size=200), direction=st.sampled_from(list(Direction)))
def test_render_is_deterministic_and_its_hash_is_recomputable(prompt, direction):
    r1 = render(DEFAULT_TEMPLATE, prompt, direction)
    r2 = render(DEFAULT_TEMPLATE, prompt, direction.value)
    assert r1 == r2
    assert r1.sha256 == independent_hash("extend", 1, r1.text) == prompt_sha256("extend", 1, r1.text)
    assert r1.user_prompt == normalize_user_prompt(prompt)
    assert r1.text.endswith(r1.user_prompt or DEFAULT_TEMPLATE.empty_prompt)


# --- registry ----------------------------------------------------------------------------------------


def test_get_template_defaults_to_the_latest_extend():
    assert get_template() is get_template("extend", 1)
    assert get_template().id == "extend/1"
    assert "extend/1" in available_templates()


def test_latest_version_wins_when_several_exist(monkeypatch):
    v1 = PromptTemplate(name="grow", version=1, text="one $user_prompt")
    v10 = PromptTemplate(name="grow", version=10, text="ten $user_prompt")
    v2 = PromptTemplate(name="grow", version=2, text="two $user_prompt")
    monkeypatch.setitem(templates_module._REGISTRY, "grow", {1: v1, 10: v10, 2: v2})
    assert get_template("grow") is v10
    assert get_template("grow", 2) is v2
    assert available_templates() == ["extend/1", "grow/1", "grow/2", "grow/10"]


def test_unknown_name_is_a_clear_lookup_error():
    with pytest.raises(UnknownTemplateError, match=r"no prompt template named 'nope'; available: extend/1"):
        get_template("nope")
    assert issubclass(UnknownTemplateError, ImkerError)
    assert issubclass(UnknownTemplateError, LookupError)


@pytest.mark.parametrize("version", [0, 2, True, "1", 1.0])
def test_unknown_version_is_a_clear_lookup_error(version):
    with pytest.raises(LookupError, match=r"'extend' has no version .*available versions: 1"):
        get_template("extend", version)


def test_duplicate_template_versions_are_refused():
    with pytest.raises(InvalidTemplateError, match="defined twice"):
        templates_module._build_registry(SIMPLE, SIMPLE)


# --- template validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "Extend"}, "template name"),
        ({"name": "a/b"}, "template name"),
        ({"name": ""}, "template name"),
        ({"version": 0}, "version must be an integer >= 1"),
        ({"version": True}, "version must be an integer >= 1"),
        ({"version": "1"}, "version must be an integer >= 1"),
        ({"text": "$user_prompt $colour"}, r"unknown placeholder\(s\) \['colour'\]"),
        ({"text": "no prompt here"}, r"must contain \$user_prompt"),
        ({"text": "$user_prompt costs $5"}, "malformed"),
    ],
)
def test_invalid_templates_are_refused(kwargs, message):
    fields = {"name": "ok", "version": 1, "text": "$user_prompt"} | kwargs
    with pytest.raises(InvalidTemplateError, match=message):
        PromptTemplate(**fields)


def test_templates_are_frozen_values():
    with pytest.raises(AttributeError):
        SIMPLE.text = "changed"  # type: ignore[misc]
    assert PromptTemplate(name="simple", version=3, text="grow $toward: $user_prompt", empty_prompt="more") == SIMPLE
