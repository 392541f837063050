"""Synthetic access logs for the scan tests: a browsing person, a crawler, a scraper."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def line(
    ip: str,
    when: datetime,
    path: str,
    *,
    status: int = 200,
    size: int = 5120,
    ua: str = CHROME,
    referer: str = "-",
    method: str = "GET",
) -> str:
    stamp = when.strftime("%d/%b/%Y:%H:%M:%S %z")
    return f'{ip} - - [{stamp}] "{method} {path} HTTP/1.1" {status} {size} "{referer}" "{ua}"'


def reader(ip: str, start: datetime, pages: int = 12) -> list[str]:
    """A person: a page every minute or two, each with its style, script and images."""
    lines = []
    when = start
    for n in range(pages):
        page = f"/blog/post-{n % 7}.html"
        lines.append(line(ip, when, page))
        for asset in ("/css/site.css", "/js/site.js", f"/img/photo-{n}.jpg"):
            lines.append(line(ip, when + timedelta(seconds=1), asset, referer=page))
        when += timedelta(seconds=60 + 37 * (n % 3))
    return lines


def scraper(ip: str, start: datetime, pages: int = 120, ua: str = CHROME) -> list[str]:
    """A program: robots.txt, then page after page, two a second, never an asset."""
    lines = [line(ip, start, "/robots.txt", ua=ua)]
    for n in range(pages):
        lines.append(line(ip, start + timedelta(seconds=1 + n // 2), f"/u/person{n:04d}", ua=ua))
    return lines


def write(path: str, *groups: list[str]) -> None:
    rows = [row for group in groups for row in group]
    rows.sort(
        key=lambda text: datetime.strptime(
            text.split("[", 1)[1].split("]", 1)[0], "%d/%b/%Y:%H:%M:%S %z"
        )
    )
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(rows) + "\n")
