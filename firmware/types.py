"""hls4ml fixed-point type strings as numbers."""

from __future__ import annotations

import re

_TYPE = re.compile(r"(u?)fixed<(\d+),(-?\d+)(?:,(\w+),(\w+),\d+)?>")


def parse_type(text: str) -> dict:
    """hls4ml's precision string as numbers: ap convention, integer bits include the sign bit."""
    text = text.replace(" ", "")
    integer_type = re.fullmatch(r"(u?)int<(\d+)>", text)
    if integer_type:  # hls4ml writes integer-valued types (e.g. the trigger bit) as (u)int<W>
        text = f"{integer_type.group(1)}fixed<{integer_type.group(2)},{integer_type.group(2)},TRN,WRAP,0>"
    match = _TYPE.fullmatch(text)
    if not match:
        raise ValueError(f"cannot read fixed-point type {text!r}")
    unsigned, width, integer, rounding, overflow = match.groups()
    width, integer, signed = int(width), int(integer), not unsigned
    lsb = 2.0 ** (integer - width)
    high = 2.0 ** (integer - signed)
    return {"signed": signed, "width": width, "integer": integer, "lsb": lsb, "min": -high if signed else 0.0,
            "max": high - lsb, "rounding": rounding or "TRN", "overflow": overflow or "WRAP"}
