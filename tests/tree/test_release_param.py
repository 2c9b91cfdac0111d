"""Reading ``release``: a list of globs, or a table with the notes' file; a stage named
release stays a stage."""

from __future__ import annotations

import pytest

from ci_bot.errors import ConfigError
from ci_bot.tree.config import parse_config
from ci_bot.tree.release import ReleaseSpec
from ci_bot.tree.treejson import dumps, from_json

HEAD = '[create-tag]\n[pipeline.main]\nimage = "x"\n[pipeline.main.publish]\nrun = "make"\n'


def release_of(line: str) -> ReleaseSpec | None:
    node = parse_config(HEAD + line + "\n").pipelines["main"].find("/publish")
    assert node is not None
    return node.params.release


def test_a_list_of_globs() -> None:
    assert release_of('release = ["dist/*", "docs/*.pdf"]') == ReleaseSpec(("dist/*", "docs/*.pdf"))


def test_a_table_names_the_notes_too() -> None:
    spec = release_of('release = { files = ["dist/*"], notes = "NOTES.md" }')
    assert spec == ReleaseSpec(("dist/*",), notes="NOTES.md")


def test_it_survives_json() -> None:
    tree = parse_config(HEAD + 'release = { files = ["d/*"], notes = "n.md" }\n').pipelines["main"]
    assert from_json(dumps(tree)) == tree


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('release = "dist/*"', "release: must be a list of globs"),
        ("release = []", "release: must be a non-empty list of globs"),
        ('release = ["/etc/passwd"]', "release[0]: '/etc/passwd' must be relative to $CI_DATA"),
        ('release = { notes = "n.md" }', "release: needs 'files'"),
        ('release = { files = ["d/*"], note = "n" }', "release.note: unknown key 'note'"),
        ('release = { files = ["d/*"], notes = "../n" }', "release.notes: '../n' must be relative"),
    ],
)
def test_a_bad_release_is_a_config_error_with_its_line(line: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(HEAD + line + "\n")
    [problem] = caught.value.problems
    assert problem.line == 6
    assert message in problem.message


def test_a_stage_named_release_is_still_a_stage() -> None:
    config = parse_config(
        '[push]\n[pipeline.main]\nimage = "x"\n[pipeline.main.release]\nrun = "y"\n'
    )
    assert [child.name for child in config.pipelines["main"].children] == ["release"]
