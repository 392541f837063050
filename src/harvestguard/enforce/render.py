"""HTML from the package's Jinja2 templates, and PDF from HTML with WeasyPrint."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from PIL import ImageFile

# how reports name the data classes of harvestguard.events.DataClass
DATA_CLASS_LABELS = {
    "identity": "identity (names, usernames, profile details)",
    "location": "location (places posted from)",
    "photo": "photos",
    "ephemeral": "stories (ephemeral content)",
    "social_graph": "social graph (followers, following)",
    "contact": "contact details",
    "content": "posts and captions",
}


def _when(moment: datetime | date | None) -> str:
    if moment is None:
        return "-"
    if isinstance(moment, datetime):
        return f"{moment:%Y-%m-%d %H:%M} UTC"
    return f"{moment:%Y-%m-%d}"


def _data_class(name: str) -> str:
    return DATA_CLASS_LABELS.get(name, name)


_environment = Environment(
    loader=PackageLoader("harvestguard.enforce", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_environment.filters["when"] = _when
_environment.filters["data_class"] = _data_class


def render_html(template: str, **context: Any) -> str:
    return _environment.get_template(template).render(**context)


def html_to_pdf(html: str) -> bytes:
    # Imported here: WeasyPrint loads pango when imported, and the request path, which imports
    # this package for its decisions, never renders a PDF. Importing it also sets Pillow's
    # process-wide LOAD_TRUNCATED_IMAGES, which would let an app in the same process accept
    # truncated uploads; the setting is put back (our notices embed no images).
    truncated = ImageFile.LOAD_TRUNCATED_IMAGES
    try:
        import weasyprint  # type: ignore[import-untyped]
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = truncated
    pdf: bytes = weasyprint.HTML(string=html).write_pdf()
    return pdf
