"""The library both services use."""


def greeting(name: str) -> str:
    return f"Hello, {name.strip() or 'world'}!"
