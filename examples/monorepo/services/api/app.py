"""The api service: prints what it would answer."""

import sys

from shared.greeting import greeting


def answer(name: str) -> str:
    return f"[api] {greeting(name)}"


def main() -> None:
    print(answer(sys.argv[1] if len(sys.argv) > 1 else ""))


if __name__ == "__main__":
    main()
