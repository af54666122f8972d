"""Prompt templates: the packaged sets, validation errors (always naming the file), rendering, hot
reload, versions and the LangChain view."""

from __future__ import annotations

import os
import shutil
import textwrap
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.prompts import ChatPromptTemplate

from prompts import DEFAULT_ROOT, PromptError, PromptLibrary, PromptTemplate, load_template

ENGINE_TEMPLATES = {"system", "elicit", "recommend", "answer", "chitchat", "understand"}

ITEMS = [
    {"label": "Heat (1995)", "genres": ["crime", "thriller"], "people": ["Michael Mann", "Al Pacino"],
     "facts": {"runtime": 170, "rt_meter": 87}, "reasons": ["like Collateral (2004)", "crime"]},
    {"label": "Ronin (1998)", "facts": {"runtime": 122}, "reasons": []},
]

# Values that exercise every template, including optional branches.
SAMPLE_VARS: dict[str, dict] = {
    "system": {},
    "elicit": {"slot": "era", "user_message": "something tense", "known": ["wants genres: thriller"],
               "asked_before": ["What kind of movies do you like?"]},
    "recommend": {"items": ITEMS, "user_message": "something tense", "known": ["liked: Collateral (2004)"]},
    "recommend_item": {"item": ITEMS[0], "user_message": "something tense"},
    "answer": {"user_message": "who is in it?", "item": {**ITEMS[0], "text": "A heist film."}},
    "chitchat": {"user_message": "hello!", "known": ["likes crime"]},
    "understand": {"user_message": "no horror please", "json_schema": '{"type": "object"}',
                   "genres": ["comedy", "horror"], "last_recommendations": ["Heat (1995)"]},
}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def bump_mtime(path: Path) -> None:
    """Make sure a rewrite is seen even on file systems with coarse timestamps."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))


GOOD = """\
name: greet
version: 1
description: say hello
input_variables:
  who: {description: the name}
  mood: {description: how, default: cheerful}
messages:
  - role: system
    content: You are {{ mood }}.
  - role: user
    content: Say hello to {{ who }}.
"""


@pytest.fixture
def lib_dir(tmp_path: Path) -> Path:
    write(tmp_path / "default" / "greet.yaml", GOOD)
    return tmp_path


# ------------------------------------------------------------------------------ packaged templates
@pytest.fixture(scope="module")
def library() -> PromptLibrary:
    return PromptLibrary()


def test_packaged_sets_are_valid_and_complete(library: PromptLibrary):
    assert {"default", "customer_service"} <= set(library.sets())
    loaded = library.validate_all()
    assert len(loaded) >= 9
    assert set(library.names("default")) >= ENGINE_TEMPLATES
    rows = {r.name: r for r in library.list("customer_service")}
    assert rows["system"].inherited_from is None and rows["recommend"].inherited_from is None
    assert rows["elicit"].inherited_from == "default"  # inherited
    assert library.get("elicit", "customer_service").path == library.get("elicit").path


@pytest.mark.parametrize("name", sorted(SAMPLE_VARS))
@pytest.mark.parametrize("set_name", ["default", "customer_service"])
def test_every_packaged_template_renders(library: PromptLibrary, name: str, set_name: str):
    template = library.get(name, set_name)
    messages = template.render(**SAMPLE_VARS[name])
    assert messages and all(m["role"] in ("system", "user", "assistant") and m["content"] for m in messages)
    assert all("{{" not in m["content"] and "{%" not in m["content"] for m in messages)


def test_system_persona_states_the_honesty_rules(library: PromptLibrary):
    text = library.get("system").render()[0]["content"]
    assert "Never invent titles" in text and "movies" in text
    cs = library.get("system", "customer_service").render(domain="recipes", item_noun="recipe")[0]["content"]
    assert "customer" in cs and "recipes" in cs and "Never invent titles" in cs


def test_recommend_formats_the_given_items_in_order(library: PromptLibrary):
    (msg,) = library.get("recommend").render(items=ITEMS, user_message="something tense")
    text = msg["content"]
    assert msg["role"] == "user"
    assert "The 2 movies to recommend, in this order" in text
    heat = ("- Heat (1995) (crime, thriller); with Michael Mann, Al Pacino; runtime: 170; rt_meter: 87; "
            "fits because: like Collateral (2004), crime")
    assert text.index(heat) < text.index("- Ronin (1998)")
    assert '"something tense"' in text
    assert "Do not mention any other title" in text
    assert 'Begin your reply with "Heat (1995)"' in text
    (short,) = library.get("recommend").render(items=ITEMS, fact_limit=1)
    assert "runtime: 170" in short["content"] and "rt_meter" not in short["content"]
    (one,) = library.get("recommend_item").render(item=ITEMS[1])
    assert "Ronin (1998); runtime: 122" in one["content"] and "Heat" not in one["content"]


def test_elicit_asks_about_the_slot(library: PromptLibrary):
    t = library.get("elicit")
    assert "recent movies or older ones" in t.render(slot="era")[0]["content"]
    text = t.render(slot="disambiguate", options=["Heat (1995)", "Heat (1986)"])[0]["content"]
    assert "Heat (1995) or Heat (1986)" in text
    text = t.render(slot="genre", asked_before=["Which film did you enjoy?"])[0]["content"]
    assert "do not repeat" in text and "Which film did you enjoy?" in text


# -------------------------------------------------------------------------------------- rendering
def test_render_uses_defaults_and_checks_variables(lib_dir: Path):
    t = PromptLibrary([lib_dir]).get("greet")
    assert t.render(who="Ada") == [{"role": "system", "content": "You are cheerful."},
                                   {"role": "user", "content": "Say hello to Ada."}]
    assert t.render(who="Ada", mood="grumpy")[0]["content"] == "You are grumpy."
    with pytest.raises(PromptError, match=r"greet\.yaml: .*missing required variable\(s\) \['who'\]"):
        t.render()
    with pytest.raises(PromptError, match=r"greet\.yaml: .*does not declare variable\(s\) \['whom'\]"):
        t.render(who="Ada", whom="Bob")


def test_strict_undefined_attribute_is_an_error_naming_the_file(tmp_path: Path):
    path = write(tmp_path / "default" / "card.yaml", """\
        name: card
        version: 1
        input_variables: [item]
        messages:
          - role: user
            content: "{{ item.title }} ({{ item.year }})"
        """)
    t = load_template(path)
    assert t.render(item={"title": "Heat", "year": 1995})[0]["content"] == "Heat (1995)"
    with pytest.raises(PromptError, match=r"card\.yaml: messages\[0\] \(user\): render failed"):
        t.render(item={"title": "Heat"})


def test_sandbox_blocks_unsafe_attributes(tmp_path: Path):
    path = write(tmp_path / "default" / "evil.yaml", """\
        name: evil
        version: 1
        input_variables: [x]
        messages:
          - role: user
            content: "{{ x.__class__.__mro__ }}"
        """)
    with pytest.raises(PromptError, match=r"evil\.yaml"):
        load_template(path).render(x="text")


# ------------------------------------------------------------------------------------- validation
BAD_FILES = {
    "bad YAML": ("name: greet\nversion: 1\nmessages: [\n", "invalid YAML"),
    "not a mapping": ("- just\n- a list\n", "expected a YAML mapping"),
    "empty file": ("", "expected a YAML mapping"),
    "unknown key": (GOOD + "temperature: 0.2\n", r"unknown key\(s\) \['temperature'\]"),
    "missing messages": ("name: greet\nversion: 1\n", r"missing required key\(s\) \['messages'\]"),
    "name mismatch": (GOOD.replace("name: greet", "name: hello"), "does not match the file name"),
    "bad version": (GOOD.replace("version: 1", "version: one"), "field 'version'"),
    "bad role": (GOOD.replace("role: user", "role: human"), r"messages\[1\]\.role"),
    "unknown message key": (GOOD.replace("    content: Say", "    name: x\n    content: Say"),
                            r"messages\[1\]: unknown key\(s\) \['name'\]"),
    "empty content": (GOOD.replace("content: Say hello to {{ who }}.", 'content: ""'), "non-empty string"),
    "undeclared variable": (GOOD.replace("{{ who }}", "{{ who }} from {{ place }}"),
                            r"\['place'\] used in messages but not declared"),
    "jinja syntax": (GOOD.replace("{{ who }}", "{{ who "), "Jinja2 syntax error on line 1"),
    "unknown variable key": (GOOD.replace("{description: the name}", "{description: x, type: str}"),
                             r"input_variables\.who: unknown key\(s\) \['type'\]"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_invalid_files_are_errors_naming_the_file(tmp_path: Path, case: str):
    text, message = BAD_FILES[case]
    path = tmp_path / "default" / "greet.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PromptError, match=message) as info:
        PromptLibrary([tmp_path]).get("greet")
    assert str(info.value).startswith(str(path))
    assert info.value.path == path


def test_version_in_the_file_name_must_match(lib_dir: Path):
    write(lib_dir / "default" / "greet.v3.yaml", GOOD.replace("version: 1", "version: 2"))
    with pytest.raises(PromptError, match=r"greet\.v3\.yaml: field 'version': 2 does not match"):
        PromptLibrary([lib_dir]).get("greet")


def test_duplicate_versions_are_an_error(lib_dir: Path):
    write(lib_dir / "default" / "greet.v1.yaml", GOOD)
    with pytest.raises(PromptError, match=r"version 1 is also defined in"):
        PromptLibrary([lib_dir]).get("greet")


def test_unknown_set_and_template(lib_dir: Path):
    lib = PromptLibrary([lib_dir])
    with pytest.raises(PromptError, match="unknown prompt set 'nope'"):
        lib.get("greet", "nope")
    with pytest.raises(PromptError, match="no template 'missing'.*available: \\['greet'\\]"):
        lib.get("missing")
    with pytest.raises(PromptError, match="not a directory"):
        PromptLibrary([lib_dir / "absent"])


# ------------------------------------------------------------------------------------- inheritance
def test_sets_inherit_missing_templates(lib_dir: Path):
    write(lib_dir / "default" / "bye.yaml", GOOD.replace("name: greet", "name: bye").replace("hello", "bye"))
    write(lib_dir / "polite" / "greet.yaml", GOOD.replace("You are", "You are very polite and"))
    lib = PromptLibrary([lib_dir])
    assert lib.names("polite") == ["bye", "greet"]
    assert "very polite" in lib.get("greet", "polite").render(who="Ada")[0]["content"]
    assert lib.get("bye", "polite").set_name == "default"


def test_set_meta_file_and_cycles(lib_dir: Path):
    write(lib_dir / "a" / "_set.yaml", "extends: b\n")
    write(lib_dir / "b" / "_set.yaml", "extends: a\n")
    with pytest.raises(PromptError, match="inheritance cycle: a -> b -> a"):
        PromptLibrary([lib_dir]).get("greet", "a")
    write(lib_dir / "c" / "_set.yaml", "extends: missing\n")
    with pytest.raises(PromptError, match="extends unknown set 'missing'"):
        PromptLibrary([lib_dir]).get("greet", "c")
    write(lib_dir / "d" / "_set.yaml", "extend: default\n")
    with pytest.raises(PromptError, match=r"_set\.yaml: unknown key\(s\) \['extend'\]"):
        PromptLibrary([lib_dir]).get("greet", "d")
    write(lib_dir / "e" / "_set.yaml", "# nothing set: extends default\n")
    assert PromptLibrary([lib_dir]).parent("e") == "default"
    write(lib_dir / "f" / "_set.yaml", "- extends\n- default\n")
    with pytest.raises(PromptError, match=r"f/_set\.yaml: expected a mapping with description / extends"):
        PromptLibrary([lib_dir]).get("greet", "f")


# -------------------------------------------------------------------------------------- hot reload
def test_hot_reload_of_changed_new_and_removed_files(lib_dir: Path):
    lib = PromptLibrary([lib_dir])
    first = lib.get("greet")
    assert lib.get("greet") is first  # unchanged: cached
    path = lib_dir / "default" / "greet.yaml"
    path.write_text(GOOD.replace("Say hello", "Wave"), encoding="utf-8")
    bump_mtime(path)
    assert lib.get("greet").render(who="Ada")[1]["content"] == "Wave to Ada."
    v2 = GOOD.replace("version: 1", "version: 2").replace("Say", "Shout")
    write(lib_dir / "default" / "greet.v2.yaml", v2)
    assert lib.get("greet").version == 2
    (lib_dir / "default" / "greet.v2.yaml").unlink()
    assert lib.get("greet").version == 1
    path.write_text(GOOD.replace("{{ who }}", "{{ whom }}"), encoding="utf-8")  # broken on disk
    bump_mtime(path)
    with pytest.raises(PromptError, match=r"greet\.yaml: variable\(s\) \['whom'\]"):
        lib.get("greet")


def test_packaged_template_hot_reload_in_a_copy(tmp_path: Path):
    root = tmp_path / "templates"
    shutil.copytree(DEFAULT_ROOT, root)
    lib = PromptLibrary([root])
    path = root / "default" / "chitchat.yaml"
    edited = path.read_text(encoding="utf-8").replace("Reply briefly and kindly", "Reply in one word")
    path.write_text(edited, encoding="utf-8")
    bump_mtime(path)
    assert "Reply in one word" in lib.get("chitchat").render(user_message="hi")[0]["content"]


# ---------------------------------------------------------------------------------------- versions
def test_save_version_writes_a_new_validated_file(lib_dir: Path):
    lib = PromptLibrary([lib_dir])
    edited = GOOD.replace("Say hello", "Greet warmly")
    saved = lib.save_version("greet", edited)
    assert saved.version == 2 and saved.path == lib_dir / "default" / "greet.v2.yaml"
    assert lib.get("greet").render(who="Ada")[1]["content"] == "Greet warmly to Ada."
    assert lib.get("greet", version=1).render(who="Ada")[1]["content"] == "Say hello to Ada."
    assert [t.version for t in lib.versions("greet")] == [1, 2]
    third = lib.save_version(saved, edited.replace("warmly", "kindly"))  # from the template object
    assert third.version == 3
    # a text with a higher version keeps it
    assert lib.save_version("greet", GOOD.replace("version: 1", "version: 10")).version == 10


def test_save_version_rejects_invalid_text_and_writes_nothing(lib_dir: Path):
    lib = PromptLibrary([lib_dir])
    before = sorted(p.name for p in (lib_dir / "default").iterdir())
    with pytest.raises(PromptError, match=r"greet\.v2\.yaml: variable\(s\) \['nobody'\]"):
        lib.save_version("greet", GOOD.replace("{{ who }}", "{{ nobody }}"))
    with pytest.raises(PromptError, match="field 'name': 'other' but saving as 'greet'"):
        lib.save_version("greet", GOOD.replace("name: greet", "name: other"))
    for text in ("- a list\n", ""):
        with pytest.raises(PromptError, match=r"default/greet\.yaml: expected a YAML mapping"):
            lib.save_version("greet", text)
    with pytest.raises(PromptError, match=r"default/greet\.yaml: invalid YAML"):
        lib.save_version("greet", "messages: [\n")
    assert sorted(p.name for p in (lib_dir / "default").iterdir()) == before


def test_save_version_into_a_writable_root_and_new_set(lib_dir: Path, tmp_path: Path):
    user = tmp_path / "user-prompts"
    lib = PromptLibrary([lib_dir], write_root=user)
    text = "\n".join(line for line in GOOD.splitlines() if not line.startswith(("name:", "version:")))
    saved = lib.save_version("greet", text, set="support")  # name filled in, version bumped
    assert saved.path == user / "support" / "greet.v2.yaml" and saved.set_name == "support"
    assert lib.get("greet", "support").version == 2
    assert lib.get("greet").version == 1  # the default set is untouched


def test_semver_versions(lib_dir: Path):
    (lib_dir / "default" / "greet.yaml").write_text(GOOD.replace("version: 1", 'version: "1.2.0"'))
    lib = PromptLibrary([lib_dir])
    assert lib.get("greet").version_key == (1, 2, 0)
    saved = lib.save_version("greet", GOOD)
    assert saved.version == "1.3.0" and saved.path.name == "greet.v1.3.0.yaml"
    assert lib.get("greet", version="1.2.0").version == "1.2.0"


# -------------------------------------------------------------------------------------- LangChain
@pytest.mark.parametrize("name", sorted(SAMPLE_VARS))
def test_langchain_view_renders_the_same_messages(library: PromptLibrary, name: str):
    template = library.get(name)
    prompt = template.to_langchain()
    assert isinstance(prompt, ChatPromptTemplate)
    assert set(prompt.input_variables) == set(template.required_variables)
    ours = template.render(**SAMPLE_VARS[name])
    theirs = prompt.format_messages(**SAMPLE_VARS[name])
    kinds = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}
    assert len(ours) == len(theirs)
    for mine, lc in zip(ours, theirs, strict=True):
        assert isinstance(lc, kinds[mine["role"]])
        assert lc.content.strip() == mine["content"]


def test_langchain_view_applies_defaults(lib_dir: Path):
    prompt = PromptLibrary([lib_dir]).get("greet").to_langchain()
    assert prompt.input_variables == ["who"]
    messages = prompt.invoke({"who": "Ada"}).to_messages()
    assert [m.content for m in messages] == ["You are cheerful.", "Say hello to Ada."]


def test_template_objects_are_immutable(lib_dir: Path):
    t = PromptLibrary([lib_dir]).get("greet")
    assert isinstance(t, PromptTemplate)
    with pytest.raises(AttributeError):
        t.name = "other"  # type: ignore[misc]
