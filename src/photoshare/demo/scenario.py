"""What the demo plays: people and partners using photoshare, and the three adversaries of the
2019 story, driven over real HTTP ``SPEED`` times faster than life."""

from __future__ import annotations

from harvestguard.simulate import Scenario

# virtual seconds per real second: two and a half minutes of traffic are two and a half hours of
# platform life
SPEED = 60.0
SECONDS = 150.0
USERS = 200
# stories per account per day while the traffic runs: an evening, when people post (the seeded
# world shows about 0.7 a day averaged over whole days)
STORIES_PER_DAY = 2.0
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
            "profile_enumerator": {
                # a sweep the client machine can send in order at this speed (60 x 0.5 = 30/s)
                "requests_per_second": [0.3, 0.5],
                # a browser's requests wait for each other's answers, which take 60 times
                # longer at this speed: more per address and the runner would reorder the walk
                "requests_per_ip": [1, 2],
                # a proxy pool in proportion to the site: the default scenario's 150-1200
                # networks walk 12,000 accounts; a walk of 200 is given 15-40
                "nets": [15, 40],
            },
        },
    }
)
