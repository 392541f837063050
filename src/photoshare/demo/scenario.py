"""What the demo plays: people and partners using photoshare, and the three adversaries of the
2019 story, driven over real HTTP ``SPEED`` times faster than life."""

from __future__ import annotations

from harvestguard.simulate import Scenario

# virtual seconds per real second: two and a half minutes of traffic are two and a half hours of
# platform life
SPEED = 60.0
SECONDS = 150.0
USERS = 200
ADVERSARIES = ("geofence_harvester", "story_archiver", "profile_enumerator")

DEMO_SCENARIO = Scenario.from_dict(
    {
        "preset": "small",
        "name": "demo",
        "adversaries": dict.fromkeys(ADVERSARIES, 1),
        # every log-in costs the server an argon2 hash: a handful of puppets and harvester
        # accounts, as many as the story needs
        "parameters": {
            "story_archiver": {"puppets": [3, 4], "fetch_delay_minutes": [1, 8]},
            "geofence_harvester": {"accounts": [2, 3]},
            # a sweep the client machine can send in order at this speed (60 x 0.5 = 30/s)
            "profile_enumerator": {"requests_per_second": [0.3, 0.5]},
        },
    }
)
