"""Plain-text tables of the offline tools: columns padded to their widest cell."""

from __future__ import annotations

from collections.abc import Sequence


def table_lines(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    """The header, a rule of dashes under each column, then one line per row; two spaces
    between columns, one before the first, no trailing spaces."""
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]

    def line(cells: Sequence[object]) -> str:
        return " " + "  ".join(f"{cell!s:<{widths[i]}}" for i, cell in enumerate(cells)).rstrip()

    return [line(header), line(["-" * w for w in widths]), *(line(row) for row in rows)]
