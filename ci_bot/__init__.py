"""ci-bot: a Git-event-driven CI/CD bot in the spirit of Conducto.

A webhook arrives, the bot reads ``conducto.cfg`` at that commit, builds a tree
of Serial / Parallel / Exec nodes, runs each Exec in its own Docker container
and reports back to GitHub and Slack.  See ``README.md`` for the tour.
"""

__version__ = "0.1.0"
