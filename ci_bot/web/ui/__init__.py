"""The web UI: navigate pipelines as trees, read a node's log live, reset or skip it.

``blueprint.py`` assembles it for the app factory: ``pages`` draws the HTML,
``ci_bot/web/api.py`` answers JSON under ``/api/`` (the pages use it too),
``signin`` signs people in and out, and ``ci_bot/web/auth.py`` guards every
request (webhooks and health checks excepted).  ``views``, ``nodes``, ``logs``,
``stream`` and ``actions`` hold what pages and API share; templates and static
files are beside this package in ``ci_bot/web/``.
"""
