"""A tiny package for ci-bot's demo pipeline."""


def greet(name: str) -> str:
    """A friendly greeting; an empty name greets the world."""
    return f"Hello, {name.strip() or 'world'}!"
