"""Reading one CSV of a delivery the way Dutch HIS exports write them.

The contract allows `;` or `,` as separator, UTF-8 with or without BOM or Windows-1252, `\\r\\n` or
`\\n`, and header names in any case. Everything is read as text here; typing happens in SQL
(sql/ingest/), where a value that does not parse is quarantined rather than lost.

A line whose number of fields differs from the header's, or whose quotes do not close, cannot be
split into columns: it is kept aside as a *malformed line* with its line number instead of
breaking the whole file or being silently truncated.
"""

from __future__ import annotations

import codecs
import io
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

LINE = "line"  # the line number in the file; the header is line 1


class UnreadableFile(Exception):
    """The file cannot be read as a CSV at all (encoding, empty, no header)."""


@dataclass
class ReadFile:
    name: str
    encoding: str
    separator: str
    header: list[str]  # normalised: trimmed, unquoted, lower-case
    rows: pl.DataFrame  # all columns as text plus LINE; only well-formed lines
    malformed: pl.DataFrame  # LINE, text, reason
    data_rows: int  # every non-blank line after the header: rows + malformed
    original_header: list[str] = field(default_factory=list)


def detect_encoding(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


def decode(data: bytes, file_name: str) -> tuple[str, str]:
    encoding = detect_encoding(data)
    try:
        return data.decode(encoding), encoding
    except UnicodeDecodeError as error:
        raise UnreadableFile(
            f"{file_name}: byte {error.start} is neither UTF-8 nor Windows-1252; "
            "export the file as UTF-8 (with or without BOM) or Windows-1252"
        ) from error


def detect_separator(header_line: str) -> str:
    return ";" if header_line.count(";") >= header_line.count(",") else ","


def normalise_header(names: list[str]) -> list[str]:
    return [name.strip().strip('"').strip().lower() for name in names]


def read_delivery_csv(path: Path) -> ReadFile:
    data = path.read_bytes()
    text, encoding = decode(data, path.name)
    # One text column of physical lines (\r\n, \n or a lone \r end a line).
    physical = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    lines = pl.DataFrame({"text": physical}).with_row_index(LINE, offset=1)
    lines = lines.with_columns(pl.col(LINE).cast(pl.Int64))
    if lines.height == 0 or not lines["text"][0].strip():
        raise UnreadableFile(f"{path.name}: the file is empty or has no header on line 1")
    header_line = lines["text"][0]
    separator = detect_separator(header_line)
    original_header = [
        name.strip().strip('"') for name in pl.Series([header_line]).str.split(separator)[0].to_list()
    ]
    header = normalise_header(original_header)
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise UnreadableFile(
            f"{path.name}, line 1: column {', '.join(repeated)} appears more than once in the header"
        )

    body = lines.slice(1).filter(pl.col("text").str.strip_chars() != "")
    unquoted = pl.col("text").str.replace_all(r'"[^"]*"', "")
    body = body.with_columns(
        fields=unquoted.str.count_matches(separator, literal=True) + 1,
        odd_quotes=pl.col("text").str.count_matches('"', literal=True) % 2 == 1,
    )
    well_formed = (pl.col("fields") == len(header)) & ~pl.col("odd_quotes")
    malformed = body.filter(~well_formed).select(
        LINE,
        "text",
        reason=pl.when(pl.col("odd_quotes"))
        .then(pl.lit("malformed line: a quote is not closed"))
        .otherwise(
            pl.format("malformed line: {} fields where the header has {}", "fields", pl.lit(len(header)))
        ),
    )
    good = body.filter(well_formed)
    if good.height:
        parsed = pl.read_csv(
            io.StringIO("\n".join(good["text"].to_list())),
            separator=separator,
            has_header=False,
            new_columns=header,
            infer_schema=False,
            quote_char='"',
        )
        if parsed.height != good.height:  # cannot happen for lines that passed the checks above
            raise UnreadableFile(
                f"{path.name}: lines and parsed rows disagree ({good.height} vs {parsed.height})"
            )
        rows = parsed.with_columns(good[LINE]).with_columns(pl.all().exclude(LINE).str.strip_chars())
        # Empty string = missing (contract); after trimming, blank is missing too.
        rows = rows.with_columns(
            pl.when(pl.col(c) == "").then(None).otherwise(pl.col(c)).alias(c) for c in header
        )
    else:
        rows = pl.DataFrame(
            {**{c: pl.Series([], dtype=pl.String) for c in header}, LINE: pl.Series([], dtype=pl.Int64)}
        )
    return ReadFile(
        name=path.name,
        encoding=encoding,
        separator=separator,
        header=header,
        rows=rows,
        malformed=malformed,
        data_rows=body.height,
        original_header=original_header,
    )
