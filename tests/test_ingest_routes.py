"""Route maps: URL patterns -> routes, resources, owners and data classes."""

from __future__ import annotations

from pathlib import Path

import pytest

from harvestguard.ingest import STATIC_ROUTE, RouteMapError, load_route_map, parse_route_map


def test_photoshare_map_names_routes_as_the_middleware_does() -> None:
    routes = load_route_map("photoshare")
    profile = routes.classify("/u/alice?ref=x")
    assert (profile.route, profile.resource, profile.owner, profile.object_id) == (
        "/u/{username}",
        "profile",
        "alice",
        "alice",
    )
    assert set(profile.data_classes) == {"identity", "photo"}
    assert routes.classify("/u/alice/followers").data_classes == ("social_graph",)
    assert routes.classify("/p/123").route == "/p/{post_id:int}"
    assert routes.classify("/p/abc").route is None  # not an int
    assert routes.classify("/static/app.css").route == STATIC_ROUTE


def test_blog_map_reads_the_query_string() -> None:
    routes = load_route_map("blog")
    author = routes.classify("/?author=7&x=1")
    assert (author.resource, author.object_id) == ("profile", "7")
    assert routes.classify("/?author=abc").resource == "other"
    assert routes.classify("/2024/05/01/hello").object_id == "hello"


def test_a_route_map_file(tmp_path: Path) -> None:
    path = tmp_path / "map.yaml"
    path.write_text(
        "name: shop\nstatic_extensions: [css]\nroutes:\n"
        "  - {pattern: '/customers/{id:int}', resource: profile, owner: id, object: id,"
        " data_classes: [identity, contact]}\n"
    )
    routes = load_route_map(str(path))
    assert routes.classify("/customers/9").owner == "9"
    assert routes.classify("/logo.png").route is None  # png is not listed as static here


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("routes: [{pattern: /a}]", "needs 'pattern' and 'resource'"),
        ("routes: [{pattern: a, resource: post}]", "must start with '/'"),
        ("routes: [{pattern: /a, resource: thing}]", "is not one of"),
        ("routes: [{pattern: /a, resource: post, data_classes: [dna]}]", "data_classes"),
        ("routes: [{pattern: '/a/{x:float}', resource: post}]", "kinds are"),
        ("routes: [{pattern: '/a/{x}', resource: post, owner: y}]", "not a parameter"),
        ("colour: blue", "unknown keys"),
        ("[1, 2", "not valid YAML"),
    ],
)
def test_bad_route_maps_are_refused(text: str, message: str) -> None:
    with pytest.raises(RouteMapError, match=message):
        parse_route_map(text)


def test_a_missing_route_map_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RouteMapError, match="cannot read"):
        load_route_map(str(tmp_path / "nope.yaml"))
