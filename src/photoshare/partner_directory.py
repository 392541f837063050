"""The platform's registry of partner apps, as harvestguard's notices need it: a cease-and-desist
notice goes to the partner's registered name and contact."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from harvestguard.enforce.notices import PartnerInfo
from photoshare.models import PartnerApp


def partner_info(db: Session, client_id: str) -> PartnerInfo | None:
    """The registered details of the app with this client id; None for an unknown one."""
    app = db.scalars(select(PartnerApp).where(PartnerApp.client_id == client_id)).one_or_none()
    if app is None:
        return None
    return PartnerInfo(
        client_id=app.client_id,
        name=app.name,
        contact_email=app.contact_email,
        purpose=app.purpose,
    )
