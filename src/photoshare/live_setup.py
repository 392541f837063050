"""Setting photoshare up for the simulator's live mode (the demo and the live tests).

The adversaries' own partner apps are registered as their operators would register them, with
the grants of the accounts on the server that authorised them; the accounts the run signs up are
looked up by username, since no page shows an account's id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from harvestguard.simulate.live import AccountLookup
from harvestguard.simulate.live_world import LivePlan, PartnerCredentials
from photoshare.models import PartnerApp, PartnerAuthorisation, User
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


def account_lookup(sessions: sessionmaker[Session]) -> AccountLookup:
    def lookup(usernames: Sequence[str]) -> Mapping[str, int]:
        with sessions() as db:
            rows = db.execute(select(User.username, User.id).where(User.username.in_(usernames)))
            return {name: uid for name, uid in rows}

    return lookup
