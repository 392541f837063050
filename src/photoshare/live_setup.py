"""Setting photoshare up for the simulator's live mode (the demo and the live tests).

The adversaries' own partner apps are registered as their operators would register them, with
the grants of the accounts on the server that authorised them. The accounts they made before the
run (sock puppets aged for weeks, a harvester's accounts) are created with their creation time,
follows and grants to their own partner app, as the run would find them; accounts made during the run are signed up by it. Both
are looked up by username at the end, since no page shows an account's id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from harvestguard.simulate.live import AccountLookup
from harvestguard.simulate.live_world import LivePlan, PartnerCredentials, own_password
from photoshare.accounts import create_user
from photoshare.models import Follow, FollowStatus, PartnerApp, PartnerAuthorisation, User
from photoshare.partners import register_partner

ADVERSARY_CONTACT = "ops@example.net"


def register_simulated_apps(db: Session, plan: LivePlan) -> list[PartnerCredentials]:
    """Registers every simulated partner app the server does not have yet (by name)."""
    existing = set(db.scalars(select(PartnerApp.name)))
    credentials = []
    for simulated in plan.simulated_apps():
        if simulated.name in existing:
            continue
        registered, secret = register_partner(
            db,
            name=simulated.name,
            purpose=simulated.purpose,
            contact_email=ADVERSARY_CONTACT,
            scopes=set(simulated.scopes),
        )
        db.add_all(
            PartnerAuthorisation(app_id=registered.id, user_id=user)
            for user in sorted(simulated.authorised_by & plan.seeded_accounts)
        )
        db.commit()
        credentials.append(PartnerCredentials(registered.client_id, secret, simulated.name))
    return credentials


def register_simulated_accounts(db: Session, plan: LivePlan, key: bytes) -> list[str]:
    """Creates the actors' accounts made before the run, with their creation time, password
    (``own_password``), follows of the server's accounts and grants to their operators' partner
    apps (registered first, by ``register_simulated_apps``); the plan logs in to them."""
    world = plan.world
    apps: dict[str, int] = {
        name: app_id for name, app_id in db.execute(select(PartnerApp.name, PartnerApp.id))
    }
    grants = {app.name: app.authorised_by for app in plan.simulated_apps() if app.name in apps}
    created = []
    for uid in plan.accounts_made_before():
        username = plan.username(uid)
        user = create_user(
            db,
            username=username,
            email=f"{username}@example.net",
            password=own_password(key, username),
        )
        user.created_at = datetime.fromtimestamp(world.users[uid].created_at, UTC)
        private = set(
            db.scalars(select(User.id).where(User.is_private, User.id.in_(world.following[uid])))
        )
        db.add_all(
            Follow(
                follower_id=user.id,
                followee_id=followee,
                status=FollowStatus.PENDING if followee in private else FollowStatus.APPROVED,
                created_at=user.created_at,
            )
            for followee in sorted(world.following[uid] & plan.seeded_accounts)
        )
        db.add_all(
            PartnerAuthorisation(app_id=apps[name], user_id=user.id)
            for name, authorised in sorted(grants.items())
            if uid in authorised
        )
        db.commit()
        plan.registered.add(uid)
        created.append(username)
    return created


def account_lookup(sessions: sessionmaker[Session]) -> AccountLookup:
    def lookup(usernames: Sequence[str]) -> Mapping[str, int]:
        with sessions() as db:
            rows = db.execute(select(User.username, User.id).where(User.username.in_(usernames)))
            return {name: uid for name, uid in rows}

    return lookup
