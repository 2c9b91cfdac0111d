"""Fail on tabs, trailing whitespace and lines over 100 characters."""

import pathlib
import sys

problems = 0
for root in sys.argv[1:]:
    for path in sorted(pathlib.Path(root).rglob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if "\t" in line or line != line.rstrip() or len(line) > 100:
                print(f"{path}:{number}: tab, trailing whitespace or a long line")
                problems += 1
print(f"style: {problems} problem(s)")
sys.exit(1 if problems else 0)
