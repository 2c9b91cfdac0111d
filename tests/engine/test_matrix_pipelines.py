"""A matrix in real containers: 2×2 with one exclusion runs three copies, each in its
own image with its values in its environment."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ci_bot.executors.images import BUSYBOX_IMAGE, DEBIAN_PYTHON_IMAGE
from ci_bot.tree.states import State
from tests.engine.bots import Bot, log

pytestmark = pytest.mark.docker

CONFIG = f"""\
[push]

[pipeline.main]
image = "{BUSYBOX_IMAGE}"

[pipeline.main.check]
matrix = {{ os = ["busybox", "debian"], level = ["1", "2"], \
exclude = [{{ os = "busybox", level = "2" }}], \
include = [{{ os = "busybox", image = "{BUSYBOX_IMAGE}" }}, \
{{ os = "debian", image = "{DEBIAN_PYTHON_IMAGE}" }}] }}
image = "{{matrix.image}}"
run = '''
echo "$MATRIX_OS level $MATRIX_LEVEL ({{matrix.level}})"
if command -v python3 >/dev/null; then echo "python3 here"; else echo "no python3"; fi
'''
"""


def test_a_two_by_two_matrix_with_one_exclusion_runs_three_copies(
    make_bot: Callable[..., Bot], python_image: str
) -> None:
    bot = make_bot()
    pipeline_id = bot.launch(bot.repo(CONFIG))
    assert bot.run(pipeline_id).state is State.DONE
    states = bot.states(pipeline_id)
    copies = sorted(path for path in states if path.startswith("/check/"))
    assert copies == ["/check/busybox-1", "/check/debian-1", "/check/debian-2"]
    assert log(bot.only(pipeline_id, "/check/busybox-1"))[:2] == [
        "busybox level 1 (1)",
        "no python3",
    ]
    assert log(bot.only(pipeline_id, "/check/debian-2"))[:2] == [
        "debian level 2 (2)",
        "python3 here",
    ]
    assert log(bot.only(pipeline_id, "/check/debian-1"))[:2] == [
        "debian level 1 (1)",
        "python3 here",
    ]
