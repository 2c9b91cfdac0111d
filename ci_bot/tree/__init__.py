"""Pure core: the node model, inheritance, states, conducto.cfg parsing and filters.

Nothing in this package does I/O or imports a third-party library other than
``tomli``: it turns text into frozen values and values into decisions, so the
engine, the web UI and the CLI can all trust it and tests need no fixtures.
"""
