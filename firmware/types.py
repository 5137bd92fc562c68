"""hls4ml and ap_types fixed-point type strings as numbers: the one reader of them."""

from __future__ import annotations

import re

_TYPE = re.compile(r"(?:ap_)?(u?)(fixed|int)<([^>]*)>")


def parse_type(text: str) -> dict:
    """hls4ml's precision string (``fixed<W,I,...>``, ``ufixed<...>``, ``(u)int<W>``, with or without ``ap_``) as
    numbers; ap convention: integer bits include the sign bit. Integer types truncate and wrap."""
    match = _TYPE.fullmatch(text.replace(" ", ""))
    if not match:
        raise ValueError(f"cannot read fixed-point type {text!r}")
    unsigned, kind, args = match.groups()
    args = args.split(",")
    width = int(args[0])
    integer = width if kind == "int" else int(args[1])
    modes = [m.removeprefix("AP_") for m in args[2:4]] if kind == "fixed" else []
    rounding, overflow = (modes + ["TRN", "WRAP"][len(modes):])[:2]
    signed = not unsigned
    lsb = 2.0 ** (integer - width)
    high = 2.0 ** (integer - signed)
    return {"signed": signed, "width": width, "integer": integer, "frac": width - integer, "lsb": lsb,
            "min": -high if signed else 0.0, "max": high - lsb, "rounding": rounding, "overflow": overflow}


def canonical(text: str) -> tuple:
    """(signed, width, integer bits, rounding, overflow): two spellings of one type compare equal."""
    t = parse_type(text)
    return t["signed"], t["width"], t["integer"], t["rounding"], t["overflow"]
