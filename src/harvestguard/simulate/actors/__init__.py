"""The actors of a scenario, benign and adversarial, and how a population of them is built."""

from __future__ import annotations

from harvestguard.simulate.actors.base import Actor, SimContext
from harvestguard.simulate.actors.benign import (
    HonestPartner,
    Network,
    Person,
    PowerUser,
    SearchCrawler,
    StoryPoster,
)
from harvestguard.simulate.actors.harvesters import (
    FreshAccountRush,
    GeofenceHarvester,
    Mimic,
    StoryArchiver,
)
from harvestguard.simulate.actors.scrapers import LowAndSlow, ProfileEnumerator, ScopeAbuser

ADVERSARIES: dict[str, type[Actor]] = {
    cls.actor_class: cls
    for cls in (
        GeofenceHarvester,
        StoryArchiver,
        ProfileEnumerator,
        LowAndSlow,
        ScopeAbuser,
        Mimic,
        FreshAccountRush,
    )
}

__all__ = [
    "ADVERSARIES",
    "Actor",
    "HonestPartner",
    "Network",
    "Person",
    "PowerUser",
    "SearchCrawler",
    "SimContext",
    "StoryPoster",
    "build_population",
]


def build_population(ctx: SimContext) -> list[Actor]:
    """Every actor of the scenario, in a fixed order (ids are stable for a seed)."""
    scenario, world = ctx.scenario, ctx.world
    rng = ctx.keys.rng
    holders = world.people()  # never a canary account
    rng.shuffle(holders)
    networks = _networks(ctx, scenario.people + scenario.power_users + scenario.anonymous_visitors)
    actors: list[Actor] = []
    for n in range(scenario.people):
        actors.append(Person(f"person-{n}", ctx, world.users[holders[n]], networks.pop()))
    for n in range(scenario.power_users):
        user = world.users[holders[scenario.people + n]]
        actors.append(PowerUser(f"power-{n}", ctx, user, networks.pop()))
    for n in range(scenario.anonymous_visitors):
        actors.append(Person(f"visitor-{n}", ctx, None, networks.pop()))
    for n, app in enumerate(sorted(world.apps.values(), key=lambda a: a.client_id)):
        actors.append(HonestPartner(f"partner-{n}", ctx, app))
    for n in range(scenario.search_crawlers):
        actors.append(SearchCrawler(f"crawler-{n}", ctx))
    for actor_class, cls in ADVERSARIES.items():
        for n in range(scenario.adversaries.get(actor_class, 0)):
            actors.append(cls(f"{actor_class}-{n}", ctx))
    return actors


def _networks(ctx: SimContext, count: int) -> list[Network]:
    """Home broadband for most (a /24 shared with neighbours, an address with the household);
    carrier and campus NAT for a share of people (a few addresses shared by very many)."""
    rng = ctx.keys.rng
    shared = round(count * ctx.scenario.shared_nat_share)
    # a carrier NAT puts about 25 people on each address, a campus about 40
    carriers = [ctx.space.pool("carrier", 1, 8) for _ in range(max(1, shared // 200))]
    campuses = [ctx.space.pool("campus", 1, 4) for _ in range(max(1, shared // 150))]
    ctx.carrier_pools, ctx.campus_pools = carriers, campuses
    networks: list[Network] = []
    for n in range(shared):
        pools = carriers if n % 3 else campuses
        networks.append(Network(pool=pools[n % len(pools)]))
    prefix, household = ctx.space.network("home"), ""
    while len(networks) < count:
        if rng.random() < 0.15:
            prefix = ctx.space.network("home")
        if not household or rng.random() < 0.7:
            household = f"{prefix}.{rng.randrange(2, 254)}"
        networks.append(Network(home=household))
    rng.shuffle(networks)
    return networks
