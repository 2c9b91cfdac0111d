"""``reuse``: the key (pure, and over real files), saving and restoring outputs, and the
engine taking an earlier result instead of running (with a FakeExecutor)."""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import pytest

from ci_bot.engine.context import pipeline_dir
from ci_bot.engine.datafiles import place
from ci_bot.engine.reuse import KeyInputs, ReuseCache, input_files, reuse_key
from ci_bot.engine.runner import Engine
from ci_bot.executors.fake import FakeExecutor
from ci_bot.settings import Settings
from ci_bot.store.records import NewPipeline
from ci_bot.store.store import Store
from ci_bot.store.views import pipeline_json
from ci_bot.tree.params import Reuse
from ci_bot.tree.select import apply_when
from ci_bot.tree.states import State
from ci_bot.tree.treejson import dumps
from tests.gitrepos import Files, write_files
from tests.pipelines import PUSH_MAIN, tree

REUSE = Reuse(inputs=("src/**/*.py", "pyproject.toml"), outputs=("dist",))
BASE = KeyInputs(
    image="python:3.12-slim",
    image_id="sha256:aaaa",
    command="make dist",
    env={"A": "1", "B": "2"},
    secret_names=("TOKEN",),
    reuse=REUSE,
    files=(("pyproject.toml", "file:11"), ("src/app/main.py", "file:22")),
)


# --- the key, pure -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"image": "python:3.13-slim"},
        {"image_id": "sha256:bbbb"},  # the same name, rebuilt
        {"command": "make dist V=1"},
        {"env": {"A": "1", "B": "3"}},
        {"env": {"A": "1"}},
        {"secret_names": ("TOKEN", "OTHER")},
        {"reuse": Reuse(inputs=REUSE.inputs, outputs=("build",))},
        {"files": (("pyproject.toml", "file:11"), ("src/app/main.py", "file:23"))},
        {"files": (("pyproject.toml", "file:11"),)},
    ],
    ids=lambda change: next(iter(change)),
)
def test_the_key_changes_with_what_decides_the_outcome(change: dict[str, object]) -> None:
    assert reuse_key(dataclasses.replace(BASE, **change)) != reuse_key(BASE)  # type: ignore[arg-type]


def test_the_key_ignores_order_and_is_stable() -> None:
    shuffled = dataclasses.replace(
        BASE, env={"B": "2", "A": "1"}, files=tuple(reversed(BASE.files))
    )
    assert reuse_key(shuffled) == reuse_key(BASE)
    assert len(reuse_key(BASE)) == 64


# --- the key over a real source snapshot --------------------------------------------------------

SOURCE: Files = {
    "pyproject.toml": "[project]\nname = 'app'\n",
    "src/app/__init__.py": "",
    "src/app/deep/mod.py": "X = 1\n",
    "src/app/data.json": "{}",
    "README.md": "# app\n",
}


def key_of(source: Path, reuse: Reuse = REUSE) -> str:
    return reuse_key(
        dataclasses.replace(BASE, reuse=reuse, files=input_files(source, reuse.inputs))
    )


def test_input_files_match_double_star_globs(tmp_path: Path) -> None:
    write_files(tmp_path, SOURCE)

    names = [name for name, _ in input_files(tmp_path, REUSE.inputs)]

    assert names == ["pyproject.toml", "src/app/__init__.py", "src/app/deep/mod.py"]


@pytest.mark.parametrize(
    ("path", "changes_the_key"),
    [
        ("src/app/deep/mod.py", True),
        ("pyproject.toml", True),
        ("src/app/new.py", True),  # a new input file
        ("README.md", False),
        ("src/app/data.json", False),  # under src/, but no glob matches it
    ],
)
def test_only_input_files_change_the_key(tmp_path: Path, path: str, changes_the_key: bool) -> None:
    write_files(tmp_path, SOURCE)
    before = key_of(tmp_path)

    write_files(tmp_path, {path: "changed\n"})

    assert (key_of(tmp_path) != before) is changes_the_key


def test_a_matched_directory_stands_for_every_file_below_it(tmp_path: Path) -> None:
    write_files(tmp_path, SOURCE)
    reuse = Reuse(inputs=("src",), outputs=())
    before = key_of(tmp_path, reuse)

    write_files(tmp_path, {"src/app/data.json": '{"changed": true}'})

    assert key_of(tmp_path, reuse) != before


def test_links_are_hashed_by_their_target_and_never_followed_out(tmp_path: Path) -> None:
    source, outside = tmp_path / "source", tmp_path / "outside"
    write_files(source, SOURCE)
    write_files(outside, {"secret.py": "KEY = 1\n"})
    os.symlink(outside / "secret.py", source / "src" / "app" / "link.py")
    os.symlink(outside, source / "src" / "elsewhere")
    reuse = Reuse(inputs=("src/**/*.py", "src/elsewhere/*"), outputs=())
    before = key_of(source, reuse)

    files = dict(input_files(source, reuse.inputs))
    (outside / "secret.py").write_text("KEY = 2\n")

    assert files["src/app/link.py"] == f"link:{outside / 'secret.py'}"
    assert not any(name.startswith("src/elsewhere/") for name in files)
    assert key_of(source, reuse) == before  # what the links point at is not read


# --- saving and restoring outputs -----------------------------------------------------------------


@pytest.fixture
def cache(tmp_path: Path) -> ReuseCache:
    settings = Settings.from_env({}, data_dir=tmp_path / "bot")
    return ReuseCache(settings, Store(settings.database_url), FakeExecutor())


def test_missing_outputs_are_not_saved_and_say_so(cache: ReuseCache, tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_files(data, {"dist/app.tar.gz": "tar"})

    problem = cache.save("k" * 64, 7, data, ("dist", "wheels/*.whl"))

    assert problem == "reuse: not saved, as $CI_DATA has nothing at wheels/*.whl"
    assert not (cache.root / ("k" * 64)).exists()


def test_a_restore_never_writes_through_a_link_in_ci_data(tmp_path: Path) -> None:
    saved, data, victim = tmp_path / "saved", tmp_path / "data", tmp_path / "victim"
    write_files(saved, {"dist/app.tar.gz": "built", "dist/sub/x": "x"})
    victim.mkdir()
    data.mkdir()
    os.symlink(victim, data / "dist")  # left there by a container of the later pipeline

    place(saved / "dist", data / "dist")

    assert not (data / "dist").is_symlink()
    assert (data / "dist" / "app.tar.gz").read_text() == "built"
    assert (data / "dist" / "sub" / "x").read_text() == "x"
    assert list(victim.iterdir()) == []


def test_saving_copies_links_as_links_and_skips_fifos(cache: ReuseCache, tmp_path: Path) -> None:
    data, outside = tmp_path / "data", tmp_path / "outside"
    write_files(data, {"dist/app": "built"})
    write_files(outside, {"private": "not for containers"})
    os.symlink(outside / "private", data / "dist" / "link")
    os.mkfifo(data / "dist" / "fifo")  # opening it would block the engine forever

    assert cache.save("k" * 64, 7, data, ("dist",)) == ""

    saved = cache.root / ("k" * 64) / "7" / "dist"
    assert sorted(p.name for p in saved.iterdir()) == ["app", "link"]
    assert os.readlink(saved / "link") == str(outside / "private")


# --- the engine takes an earlier result (FakeExecutor) ------------------------------------------

CONFIG = """
[pipeline.main]
image = "alpine"
[pipeline.main.build]
run = "make dist"
reuse = { inputs = ["src/**"], outputs = ["dist"] }
[pipeline.main.test]
run = "test -f $CI_DATA/dist/app"
"""


class Bot:
    """A store, a FakeExecutor and an Engine sharing one data dir."""

    def __init__(self, tmp_path: Path) -> None:
        self.settings = Settings.from_env({}, data_dir=tmp_path / "bot", max_parallel=2)
        self.store = Store(self.settings.database_url)
        self.fake = FakeExecutor()
        self.engine = Engine(self.store, self.fake, self.settings, poll_seconds=0.01)
        self.tmp_path = tmp_path
        self.sources = 0

    def launch(
        self, files: Files, *, repo: str = "acme/app", trusted: bool = True, text: str = CONFIG
    ) -> int:
        self.sources += 1
        source = self.tmp_path / f"source{self.sources}"
        write_files(source, files)
        root, skipped = apply_when(tree(text), PUSH_MAIN)
        new = NewPipeline(
            repo=repo,
            event="push",
            tree_json=dumps(root),
            branch="main",
            sha=f"sha{self.sources}",
            source_dir=str(source),
            trusted=trusted,
        )
        return self.store.create_pipeline(new, root, skipped)

    def run(self, pipeline_id: int) -> State:
        return self.engine.run_until_settled(pipeline_id).state

    def data(self, pipeline_id: int) -> Path:
        return pipeline_dir(self.settings, pipeline_id) / "data"


@pytest.fixture
def bot(tmp_path: Path) -> Bot:
    return Bot(tmp_path)


def built(bot: Bot, text: str = "v1") -> FakeExecutor:
    return bot.fake.expect("/build", files={"dist/app": text}).expect("/test")


def test_a_later_pipeline_takes_the_result_instead_of_running(bot: Bot) -> None:
    built(bot)
    first = bot.launch({"src/a.py": "1"})
    assert bot.run(first) is State.DONE

    bot.fake.expect("/test")  # /build must not run
    second = bot.launch({"src/a.py": "1", "README.md": "changed"})
    assert bot.run(second) is State.DONE

    bot.fake.assert_all_used()
    [earlier] = bot.store.executions(first, "/build")
    [reused] = bot.store.executions(second, "/build")
    message = (
        f"reused the result of pipeline {first}'s execution {earlier.id} "
        "(same image, command, env and inputs)"
    )
    assert (reused.state, reused.reused_from, reused.message) == (State.DONE, earlier.id, message)
    assert reused.started_at is not None and reused.container_id is None
    assert (bot.data(second) / "dist" / "app").read_text() == "v1"
    assert message in Path(reused.log_path).read_text()
    build = next(n for n in pipeline_json(bot.store, second)["nodes"] if n["path"] == "/build")
    assert build["executions"][0]["reused_from"] == earlier.id


@pytest.mark.parametrize(
    ("second", "why"),
    [
        ({"launch": {"src/a.py": "2"}}, "an input file changed"),
        ({"launch": {"src/a.py": "1"}, "repo": "acme/other"}, "another repository"),
        ({"launch": {"src/a.py": "1"}, "trusted": False}, "a pull request from a fork"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_the_result_is_not_taken_when(bot: Bot, second: dict[str, object], why: str) -> None:
    built(bot)
    assert bot.run(bot.launch({"src/a.py": "1"})) is State.DONE

    built(bot, "v2")
    files = second.pop("launch")
    pipeline_id = bot.launch(files, **second)  # type: ignore[arg-type]
    assert bot.run(pipeline_id) is State.DONE, why

    bot.fake.assert_all_used()
    assert bot.store.executions(pipeline_id, "/build")[0].reused_from is None
    assert (bot.data(pipeline_id) / "dist" / "app").read_text() == "v2"


def test_a_fork_offers_no_result_to_later_pipelines(bot: Bot) -> None:
    built(bot, "from a fork")
    assert bot.run(bot.launch({"src/a.py": "1"}, trusted=False)) is State.DONE

    built(bot)
    pipeline_id = bot.launch({"src/a.py": "1"})
    assert bot.run(pipeline_id) is State.DONE

    bot.fake.assert_all_used()
    assert (bot.data(pipeline_id) / "dist" / "app").read_text() == "v1"


def test_a_reset_runs_the_node_again_for_real(bot: Bot) -> None:
    built(bot)
    assert bot.run(bot.launch({"src/a.py": "1"})) is State.DONE
    bot.fake.expect("/test")
    second = bot.launch({"src/a.py": "1"})
    assert bot.run(second) is State.DONE
    assert bot.store.executions(second, "/build")[0].reused_from is not None

    bot.store.reset(second, "/build")
    bot.fake.expect("/build", files={"dist/app": "rebuilt"})
    assert bot.run(second) is State.DONE

    bot.fake.assert_all_used()
    again = bot.store.executions(second, "/build")[1]
    assert (again.attempt, again.reused_from, again.state) == (2, None, State.DONE)
    assert (bot.data(second) / "dist" / "app").read_text() == "rebuilt"


def test_a_run_without_its_outputs_is_not_offered(bot: Bot) -> None:
    bot.fake.expect("/build").expect("/test")  # /build writes no dist
    first = bot.launch({"src/a.py": "1"})
    bot.run(first)
    [build] = bot.store.executions(first, "/build")
    assert "reuse: not saved, as $CI_DATA has nothing at dist" in Path(build.log_path).read_text()

    built(bot)
    assert bot.run(bot.launch({"src/a.py": "1"})) is State.DONE
    bot.fake.assert_all_used()


def test_saved_outputs_that_are_gone_are_not_offered(bot: Bot) -> None:
    built(bot)
    assert bot.run(bot.launch({"src/a.py": "1"})) is State.DONE
    shutil.rmtree(bot.settings.data_dir / "reuse")

    built(bot, "v2")
    assert bot.run(bot.launch({"src/a.py": "1"})) is State.DONE
    bot.fake.assert_all_used()


def test_a_missing_image_offers_no_reuse_and_the_run_says_why(bot: Bot) -> None:
    built(bot)
    assert bot.run(bot.launch({"src/a.py": "1"})) is State.DONE

    bot.fake.image_ids["alpine"] = None
    built(bot)
    assert bot.run(bot.launch({"src/a.py": "1"})) is State.DONE
    bot.fake.assert_all_used()


def test_a_rebuilt_image_runs_again(bot: Bot) -> None:
    built(bot)
    assert bot.run(bot.launch({"src/a.py": "1"})) is State.DONE

    bot.fake.image_ids["alpine"] = "sha256:rebuilt"
    built(bot)
    assert bot.run(bot.launch({"src/a.py": "1"})) is State.DONE
    bot.fake.assert_all_used()
