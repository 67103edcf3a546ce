#!/usr/bin/env python3
"""Writes one benchmark's section into docs/benchmarks.md.

Usage: write_section.py SECTION   (run from the repository root)

SECTION starts with its begin marker line and ends with its end marker line
(e.g. "<!-- mail benchmark: begin -->" ... "<!-- mail benchmark: end -->").
The text between the same markers in the document is replaced; a section not
there yet is appended. Every benchmark script writes its figures this way.
"""

import sys

PATH = "docs/benchmarks.md"


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    section = sys.argv[1].strip("\n")
    lines = section.split("\n")
    begin, end = lines[0], lines[-1]
    if len(lines) < 2 or not begin.startswith("<!--") or not end.startswith("<!--"):
        print("write_section.py: the section must start and end with its marker lines", file=sys.stderr)
        return 2
    with open(PATH, encoding="utf-8") as f:
        text = f.read()
    start = text.find(begin)
    stop = text.find(end, start + len(begin)) if start >= 0 else -1
    if start >= 0 and stop >= 0:
        text = text[:start] + section + text[stop + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    with open(PATH, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {PATH}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
