"""``GET /badge/OWNER/REPO.svg?branch=B``: the status badge of a repository's branch.

It shows the newest finished pipeline of that branch (pull requests aside), or of
the whole repository without ``branch``.  By default it is a page like any other:
a signed-in viewer who may read the repository gets it, anyone else is sent to
sign in (and a repository they may not read is a 404).  With
``CI_BOT_PUBLIC_BADGES=true`` anyone gets it, for README images: it is then
answered before the sign-in gate sees the request.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, request

from ci_bot.store.listing import newest_finished
from ci_bot.web import auth
from ci_bot.web.badge_svg import badge_for, render
from ci_bot.web.ui.state import services

blueprint = Blueprint("badges", __name__)

ENDPOINT = "badges.badge"
HEADERS = {
    # a badge must change as soon as the branch's state does (GitHub's image proxy caches)
    "Cache-Control": "no-cache, max-age=0",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
}


@blueprint.before_app_request
def public_badge() -> Response | None:
    """A public badge is answered here, before ``auth.gate`` (registered after this
    blueprint) asks the stranger to sign in."""
    if request.endpoint != ENDPOINT or not services().settings.public_badges:
        return None
    return _badge(**(request.view_args or {}))


@blueprint.get("/badge/<owner>/<name>.svg")
def badge(owner: str, name: str) -> Response:
    """Reached only when badges are not public: the gate let a signed-in user through."""
    user = auth.current_user()
    if user is None or not auth.can_read(user, f"{owner}/{name}"):
        abort(404, f"no repository {owner}/{name}")
    return _badge(owner, name)


def _badge(owner: str, name: str) -> Response:
    branch = request.args.get("branch", "").strip()
    found = newest_finished(services().store, f"{owner}/{name}", branch)
    svg = render(badge_for(found.state.value if found else None))
    return Response(svg, mimetype="image/svg+xml", headers=HEADERS)
