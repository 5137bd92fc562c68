"""Pages generated when the site is built, from the code rather than copied: the supported and the refused layers
(the layer registry, :mod:`l1ad.firmware.kinds`)."""

from pathlib import Path

OUT = Path(__file__).resolve().parent / "_generated"


def layer_pages() -> dict[str, str]:
    """File name -> markdown, from the registry."""
    from l1ad.firmware.kinds import REFUSED, supported_layers

    reasons: dict[str, list[str]] = {}
    for name, reason in REFUSED.items():
        reasons.setdefault(reason, []).append(name)
    refused = ["| Keras / QKeras classes | why, and what to write instead |", "|---|---|"]
    refused += [f"| {', '.join(f'`{n}`' for n in names)} | {reason} |" for reason, names in reasons.items()]
    return {"supported_layers.md": "\n".join(f"- {line}" for line in supported_layers()) + "\n",
            "refused_layers.md": "\n".join(refused) + "\n"}


def write_pages(app=None) -> None:
    OUT.mkdir(exist_ok=True)
    for name, text in layer_pages().items():
        path = OUT / name
        if not path.exists() or path.read_text() != text:  # unchanged files keep Sphinx's incremental build
            path.write_text(text)


def setup(app):
    app.connect("builder-inited", write_pages)
    return {"parallel_read_safe": True}
