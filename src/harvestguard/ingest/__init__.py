"""Access logs -> AccessEvents: formats, streaming parsers, route maps, verified crawlers.

```python
from harvestguard.ingest import LogReader, EventBuilder, load_route_map, resolve_format

fmt = resolve_format("auto", None, None, "access.log")        # or a log_format string
for raw in LogReader(fmt).batches("access.log", stats):       # Arrow batches, streamed
    events = builder.build(raw, "access.log")                 # AccessEvent rows (Arrow)
```

``harvestguard.scan`` runs the detectors over them; docs/scan.md describes both.
"""

from pathlib import Path

from harvestguard.ingest.convert import EventBuilder
from harvestguard.ingest.crawlers import CrawlerListError, CrawlerRanges, load_crawlers
from harvestguard.ingest.formats import (
    FORMAT_NAMES,
    FormatError,
    LogFormat,
    from_template,
    json_format,
    named_format,
)
from harvestguard.ingest.lines import ParseStats
from harvestguard.ingest.reader import LogReader
from harvestguard.ingest.routes import (
    STATIC_ROUTE,
    RouteMap,
    RouteMapError,
    RouteMatch,
    load_route_map,
    parse_route_map,
)
from harvestguard.ingest.sniff import STDIN, resolve_format

LOG_DETECTORS_DIR = Path(__file__).parent / "detectors"

__all__ = [
    "FORMAT_NAMES",
    "LOG_DETECTORS_DIR",
    "STATIC_ROUTE",
    "STDIN",
    "CrawlerListError",
    "CrawlerRanges",
    "EventBuilder",
    "FormatError",
    "LogFormat",
    "LogReader",
    "ParseStats",
    "RouteMap",
    "RouteMapError",
    "RouteMatch",
    "from_template",
    "json_format",
    "load_crawlers",
    "load_route_map",
    "named_format",
    "parse_route_map",
    "resolve_format",
]
