"""The web UI: navigate pipelines as trees, read a node's log live, reset or skip it.

``blueprint.py`` assembles it for the app factory: ``pages`` draws the HTML,
``ci_bot/web/api.py`` answers JSON under ``/api/`` (the pages use it too; its
artifacts are ``api_artifacts.py``'s, starting pipelines ``api_runs.py``'s),
``signin`` signs people in and out, and ``ci_bot/web/auth.py`` guards every
request (webhooks, health checks and public badges excepted).  ``views``,
``nodes``, ``logs``, ``stream``, ``actions``, ``applicable``, ``timing``,
``artifacts`` and ``starts`` hold what pages and API share; templates and static
files are beside this package in ``ci_bot/web/``.
"""
