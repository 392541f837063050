"""Route maps: URL patterns -> route templates, resources and data classes, from YAML.

A web-server log knows the URL, not what the page showed. A route map says it, so that log
events carry the same ``route``, ``resource``, ``object_id``, ``owner_ids`` and ``data_classes``
as the middleware's and the same detectors apply:

```yaml
name: photoshare
static_extensions: [css, js, png]      # optional; these are assets, route "(static)"
routes:
  - pattern: /u/{username}             # {name}: one path segment; {name:int}: digits;
    resource: profile                  # {name:path}: the rest of the path
    data_classes: [identity, photo]
    owner: username                    # the parameter naming the person shown (optional)
    object: username                   # the parameter naming the object (optional)
  - pattern: /?author={author_id:int}  # a pattern with "?" also matches the query string
    resource: profile
    object: author_id
```

The first matching pattern wins. The pattern is the event's ``route``; a URL that matches none
gets no route (resource ``other``), and an asset gets the route ``(static)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from harvestguard.events import DataClass, Resource

STATIC_ROUTE = "(static)"
DEFAULT_STATIC_EXTENSIONS = [
    "css",
    "js",
    "mjs",
    "map",
    "png",
    "jpg",
    "jpeg",
    "gif",
    "ico",
    "svg",
    "webp",
    "avif",
    "bmp",
    "tif",
    "tiff",
    "woff",
    "woff2",
    "ttf",
    "otf",
    "eot",
    "mp3",
    "mp4",
    "webm",
    "ogg",
    "wav",
    "flac",
    "m4a",
    "mov",
    "avi",
]
SHIPPED = ("photoshare", "blog")

_PARAMETER = re.compile(r"\{(\w+)(?::(\w+))?\}")
_KINDS = {None: r"[^/?&#]+", "str": r"[^/?&#]+", "int": r"[0-9]+", "path": r"[^?#]+"}


class RouteMapError(ValueError):
    """A route map that cannot be used: where and why."""


@dataclass(frozen=True, slots=True)
class RouteMatch:
    route: str | None
    resource: str
    object_id: str | None = None
    owner: str | None = None
    data_classes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Route:
    pattern: str
    resource: str
    regex: re.Pattern[str]
    with_query: bool
    data_classes: tuple[str, ...] = ()
    owner: str | None = None
    object: str | None = None

    def match(self, path: str, target: str) -> RouteMatch | None:
        found = self.regex.fullmatch(target if self.with_query else path)
        if found is None:
            return None
        return RouteMatch(
            route=self.pattern,
            resource=self.resource,
            object_id=found.group(self.object) if self.object else None,
            owner=found.group(self.owner) if self.owner else None,
            data_classes=self.data_classes,
        )


@dataclass(frozen=True, slots=True)
class RouteMap:
    name: str
    routes: tuple[Route, ...] = ()
    static_extensions: frozenset[str] = field(
        default_factory=lambda: frozenset(DEFAULT_STATIC_EXTENSIONS)
    )

    def classify(self, target: str) -> RouteMatch:
        """What a request target (path and query, as logged) showed."""
        path = target.split("?", 1)[0].split("#", 1)[0]
        for route in self.routes:
            found = route.match(path, target)
            if found is not None:
                return found
        last = path.rsplit("/", 1)[-1]
        if "." in last and last.rsplit(".", 1)[1].lower() in self.static_extensions:
            return RouteMatch(STATIC_ROUTE, Resource.OTHER.value)
        return RouteMatch(None, Resource.OTHER.value)


def load_route_map(source: str | Path) -> RouteMap:
    """A shipped map by name (``photoshare``, ``blog``) or a YAML file."""
    if isinstance(source, str) and source in SHIPPED:
        text = resources.files("harvestguard.ingest").joinpath(f"routemaps/{source}.yaml")
        return parse_route_map(text.read_text(encoding="utf-8"), source)
    path = Path(source)
    try:
        return parse_route_map(path.read_text(encoding="utf-8"), str(path))
    except OSError as error:
        raise RouteMapError(f"{path}: cannot read: {error.strerror}") from error


def parse_route_map(text: str, where: str = "<route map>") -> RouteMap:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise RouteMapError(f"{where}: not valid YAML: {error}") from error
    if not isinstance(data, dict):
        raise RouteMapError(f"{where}: a route map is a mapping with 'routes'")
    unknown = set(data) - {"name", "routes", "static_extensions"}
    if unknown:
        raise RouteMapError(f"{where}: unknown keys {sorted(unknown)}")
    raw_routes = data.get("routes") or []
    if not isinstance(raw_routes, list):
        raise RouteMapError(f"{where}: 'routes' must be a list")
    routes = tuple(_route(entry, f"{where}: route {n}") for n, entry in enumerate(raw_routes, 1))
    extensions = data.get("static_extensions")
    if extensions is None:
        static = frozenset(DEFAULT_STATIC_EXTENSIONS)
    elif isinstance(extensions, list) and all(isinstance(e, str) for e in extensions):
        static = frozenset(e.lower().lstrip(".") for e in extensions)
    else:
        raise RouteMapError(f"{where}: 'static_extensions' must be a list of extensions")
    return RouteMap(name=str(data.get("name") or where), routes=routes, static_extensions=static)


def _route(entry: Any, where: str) -> Route:
    if not isinstance(entry, dict) or "pattern" not in entry or "resource" not in entry:
        raise RouteMapError(f"{where}: needs 'pattern' and 'resource'")
    unknown = set(entry) - {"pattern", "resource", "data_classes", "owner", "object"}
    if unknown:
        raise RouteMapError(f"{where}: unknown keys {sorted(unknown)}")
    pattern = str(entry["pattern"])
    if not pattern.startswith("/"):
        raise RouteMapError(f"{where}: pattern {pattern!r} must start with '/'")
    resource = str(entry["resource"])
    if resource not in {r.value for r in Resource}:
        raise RouteMapError(
            f"{where}: resource {resource!r} is not one of {', '.join(r.value for r in Resource)}"
        )
    classes = entry.get("data_classes") or []
    known = {c.value for c in DataClass}
    if not isinstance(classes, list) or any(c not in known for c in classes):
        raise RouteMapError(f"{where}: data_classes must be among {', '.join(sorted(known))}")
    names: list[str] = []
    parts: list[str] = []
    position = 0
    for match in _PARAMETER.finditer(pattern):
        name, kind = match.group(1), match.group(2)
        if kind not in _KINDS:
            raise RouteMapError(f"{where}: {{{name}:{kind}}}: the kinds are str, int and path")
        if name in names:
            raise RouteMapError(f"{where}: parameter {name!r} appears twice")
        names.append(name)
        parts.append(re.escape(pattern[position : match.start()]))
        parts.append(f"(?P<{name}>{_KINDS[kind]})")
        position = match.end()
    parts.append(re.escape(pattern[position:]))
    with_query = "?" in pattern
    # a query pattern matches those parameters first; other parameters may follow
    regex = "".join(parts) + (r"(?:&.*)?" if with_query else "")
    for role in ("owner", "object"):
        value = entry.get(role)
        if value is not None and value not in names:
            raise RouteMapError(f"{where}: {role} {value!r} is not a parameter of {pattern!r}")
    return Route(
        pattern=pattern,
        resource=resource,
        regex=re.compile(regex),
        with_query=with_query,
        data_classes=tuple(str(c) for c in classes),
        owner=None if entry.get("owner") is None else str(entry["owner"]),
        object=None if entry.get("object") is None else str(entry["object"]),
    )
