-- ---
-- id: geo_sweep
-- title: Sweep of the venues of a place and of the people who posted there
-- severity: critical
-- tos_clause: "4.5 No collection of location data to track or profile members"
-- description: >
--   The location pages of several venues watched over and over (polling), accumulated since the
--   start of the horizon; looking up, in the same horizon, the profiles, posts and stories of
--   the people those pages showed raises the score. People open a venue page now and then, not every few minutes. With
--   the venues table, the share of a city's venues covered is part of the evidence.
-- uses: [venues]
-- resets: horizon
-- parameters:
--   window_minutes: {type: int, default: 10, min: 1, max: 1440}
--   horizon_hours: {type: int, default: 24, min: 1, max: 168}
--   min_venues: {type: int, default: 3, min: 1}
--   min_polls_per_venue: {type: float, default: 4.0, min: 1}
--   min_followed_posters: {type: int, default: 15, min: 1}
-- explanation: >
--   {location_requests} location requests over {venues} venues ({polls_per_venue:.1f} each),
--   then {followed_posters} of the people shown there looked up
-- ---
WITH locations AS (
    SELECT actor_kind, actor_key, epoch_s, object_id AS venue_id,
           floor(epoch_s / ({{horizon_hours}} * 3600)) AS horizon,
           floor(epoch_s / ({{window_minutes}} * 60)) AS w
    FROM events
    WHERE resource = 'location' AND status = 200 AND object_id IS NOT NULL
),
first_venue AS (
    SELECT actor_kind, actor_key, horizon, venue_id, min(w) AS w
    FROM locations GROUP BY actor_kind, actor_key, horizon, venue_id
),
shown AS (
    -- the people a location page showed the actor in the horizon: a row depends only on the
    -- events of its horizon (resets: horizon)
    SELECT actor_kind, actor_key, owner, floor(epoch_s / ({{horizon_hours}} * 3600)) AS horizon,
           min(epoch_s) AS shown_at
    FROM event_owners WHERE resource = 'location' AND status = 200
    GROUP BY actor_kind, actor_key, owner, floor(epoch_s / ({{horizon_hours}} * 3600))
),
followed AS (
    SELECT v.actor_kind, v.actor_key, v.owner,
           floor(v.epoch_s / ({{horizon_hours}} * 3600)) AS horizon,
           min(floor(v.epoch_s / ({{window_minutes}} * 60))) AS w
    FROM event_owners v
    JOIN shown s ON s.actor_kind = v.actor_kind AND s.actor_key = v.actor_key
                AND s.owner = v.owner AND v.epoch_s > s.shown_at
                AND s.horizon = floor(v.epoch_s / ({{horizon_hours}} * 3600))
    WHERE v.resource IN ('profile', 'post', 'story', 'media') AND v.status = 200
      AND v.owners_shown = 1
      AND v.audience NOT IN ('follower', 'owner')
    GROUP BY v.actor_kind, v.actor_key, v.owner, floor(v.epoch_s / ({{horizon_hours}} * 3600))
),
activity AS (
    SELECT actor_kind, actor_key, horizon, w, count(*) AS requests, 0 AS new_venues,
           0 AS new_posters
    FROM locations GROUP BY actor_kind, actor_key, horizon, w
    UNION ALL
    SELECT actor_kind, actor_key, horizon, w, 0, count(*), 0
    FROM first_venue GROUP BY actor_kind, actor_key, horizon, w
    UNION ALL
    SELECT actor_kind, actor_key, horizon, w, 0, 0, count(*)
    FROM followed GROUP BY actor_kind, actor_key, horizon, w
),
per_window AS (
    SELECT actor_kind, actor_key, horizon, w, sum(requests) AS requests,
           sum(new_venues) AS new_venues, sum(new_posters) AS new_posters
    FROM activity GROUP BY actor_kind, actor_key, horizon, w
),
running AS (
    SELECT actor_kind, actor_key, horizon, w,
           sum(requests) OVER acc AS location_requests,
           sum(new_venues) OVER acc AS venues,
           sum(new_posters) OVER acc AS followed_posters
    FROM per_window
    WINDOW acc AS (PARTITION BY actor_kind, actor_key, horizon ORDER BY w
                   ROWS UNBOUNDED PRECEDING)
),
coverage AS (
    SELECT f.actor_kind, f.actor_key, f.horizon, max(per_city.share) AS city_share
    FROM first_venue f
    JOIN venues v ON v.venue_id = f.venue_id
    JOIN (
        SELECT fv.actor_kind, fv.actor_key, fv.horizon, vv.city,
               count(DISTINCT fv.venue_id) * 1.0 / max(c.total) AS share
        FROM first_venue fv
        JOIN venues vv ON vv.venue_id = fv.venue_id
        JOIN (SELECT city, count(*) AS total FROM venues GROUP BY city) c ON c.city = vv.city
        GROUP BY fv.actor_kind, fv.actor_key, fv.horizon, vv.city
    ) per_city ON per_city.actor_kind = f.actor_kind AND per_city.actor_key = f.actor_key
              AND per_city.horizon = f.horizon AND per_city.city = v.city
    GROUP BY f.actor_kind, f.actor_key, f.horizon
)
SELECT r.actor_kind, r.actor_key,
       r.horizon * {{horizon_hours}} * 3600 AS window_start,
       (r.w + 1) * {{window_minutes}} * 60 AS window_end,
       LEAST(1.0, 0.6
             + CASE WHEN r.followed_posters >= {{min_followed_posters}} THEN 0.2 ELSE 0.0 END
             + 0.2 * LEAST(1.0, (r.location_requests * 1.0 / r.venues - {{min_polls_per_venue}})
                                / {{min_polls_per_venue}})) AS score,
       r.location_requests, r.venues,
       r.location_requests * 1.0 / r.venues AS polls_per_venue,
       r.followed_posters, c.city_share
FROM running r
LEFT JOIN coverage c
  ON c.actor_kind = r.actor_kind AND c.actor_key = r.actor_key AND c.horizon = r.horizon
WHERE r.venues >= {{min_venues}} AND r.location_requests >= {{min_polls_per_venue}} * r.venues
