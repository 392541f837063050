-- ---
-- id: data_limit
-- title: More people's data of one class than the limit allows
-- severity: medium
-- tos_clause: "4.6 Data-access limits per data class"
-- description: >
--   Distinct owners whose data of each class a principal received since the start of the
--   horizon, against a limit per class. Owners shown on location pages and in feeds count too:
--   this measures exposure, whatever the page.
-- resets: horizon
-- monotone: true
-- parameters:
--   window_minutes: {type: int, default: 10, min: 1, max: 1440}
--   horizon_hours: {type: int, default: 24, min: 1, max: 168}
--   limit_identity: {type: int, default: 1500, min: 1}
--   limit_location: {type: int, default: 1000, min: 1}
--   limit_photo: {type: int, default: 1500, min: 1}
--   limit_ephemeral: {type: int, default: 1000, min: 1}
--   limit_social_graph: {type: int, default: 1000, min: 1}
--   limit_contact: {type: int, default: 100, min: 1}
-- explanation: >
--   {owners} people's {data_class} data received, over the limit of {data_limit}
-- ---
WITH received AS (
    SELECT actor_kind, actor_key, owner, epoch_s,
           floor(epoch_s / ({{horizon_hours}} * 3600)) AS horizon,
           has_identity, has_location, has_photo, has_ephemeral, has_social_graph, has_contact
    FROM event_owners
    WHERE audience NOT IN ('owner', 'follower')
),
candidates AS (
    -- distinct owners never outnumber the rows they came in: a principal that did not receive
    -- as many rows of some class in a horizon as that class's limit cannot exceed it there
    SELECT actor_kind, actor_key, horizon
    FROM received
    GROUP BY actor_kind, actor_key, horizon
    HAVING sum(CASE WHEN has_identity THEN 1 ELSE 0 END) >= {{limit_identity}}
        OR sum(CASE WHEN has_location THEN 1 ELSE 0 END) >= {{limit_location}}
        OR sum(CASE WHEN has_photo THEN 1 ELSE 0 END) >= {{limit_photo}}
        OR sum(CASE WHEN has_ephemeral THEN 1 ELSE 0 END) >= {{limit_ephemeral}}
        OR sum(CASE WHEN has_social_graph THEN 1 ELSE 0 END) >= {{limit_social_graph}}
        OR sum(CASE WHEN has_contact THEN 1 ELSE 0 END) >= {{limit_contact}}
),
pairs AS (
    SELECT r.actor_kind, r.actor_key, r.owner, r.horizon,
           min(CASE WHEN r.has_identity THEN floor(r.epoch_s / ({{window_minutes}} * 60)) END) AS w_identity,
           min(CASE WHEN r.has_location THEN floor(r.epoch_s / ({{window_minutes}} * 60)) END) AS w_location,
           min(CASE WHEN r.has_photo THEN floor(r.epoch_s / ({{window_minutes}} * 60)) END) AS w_photo,
           min(CASE WHEN r.has_ephemeral THEN floor(r.epoch_s / ({{window_minutes}} * 60)) END) AS w_ephemeral,
           min(CASE WHEN r.has_social_graph THEN floor(r.epoch_s / ({{window_minutes}} * 60)) END) AS w_social_graph,
           min(CASE WHEN r.has_contact THEN floor(r.epoch_s / ({{window_minutes}} * 60)) END) AS w_contact
    FROM received r
    JOIN candidates c
      ON c.actor_kind = r.actor_kind AND c.actor_key = r.actor_key AND c.horizon = r.horizon
    GROUP BY r.actor_kind, r.actor_key, r.owner, r.horizon
),
exposures AS (
    SELECT actor_kind, actor_key, horizon, 'identity' AS data_class, w_identity AS w
    FROM pairs WHERE w_identity IS NOT NULL
    UNION ALL
    SELECT actor_kind, actor_key, horizon, 'location' AS data_class, w_location AS w
    FROM pairs WHERE w_location IS NOT NULL
    UNION ALL
    SELECT actor_kind, actor_key, horizon, 'photo' AS data_class, w_photo AS w
    FROM pairs WHERE w_photo IS NOT NULL
    UNION ALL
    SELECT actor_kind, actor_key, horizon, 'ephemeral' AS data_class, w_ephemeral AS w
    FROM pairs WHERE w_ephemeral IS NOT NULL
    UNION ALL
    SELECT actor_kind, actor_key, horizon, 'social_graph' AS data_class, w_social_graph AS w
    FROM pairs WHERE w_social_graph IS NOT NULL
    UNION ALL
    SELECT actor_kind, actor_key, horizon, 'contact' AS data_class, w_contact AS w
    FROM pairs WHERE w_contact IS NOT NULL
),
limits AS (
    SELECT 'identity' AS data_class, {{limit_identity}} AS data_limit
    UNION ALL SELECT 'location', {{limit_location}}
    UNION ALL SELECT 'photo', {{limit_photo}}
    UNION ALL SELECT 'ephemeral', {{limit_ephemeral}}
    UNION ALL SELECT 'social_graph', {{limit_social_graph}}
    UNION ALL SELECT 'contact', {{limit_contact}}
),
running AS (
    SELECT actor_kind, actor_key, data_class, horizon, w,
           sum(count(*)) OVER (PARTITION BY actor_kind, actor_key, data_class, horizon ORDER BY w
                               ROWS UNBOUNDED PRECEDING) AS owners
    FROM exposures GROUP BY actor_kind, actor_key, data_class, horizon, w
)
SELECT r.actor_kind, r.actor_key,
       r.horizon * {{horizon_hours}} * 3600 AS window_start,
       (r.w + 1) * {{window_minutes}} * 60 AS window_end,
       LEAST(1.0, 0.6 + 0.4 * (r.owners - l.data_limit) / l.data_limit) AS score,
       r.data_class, r.owners, l.data_limit
FROM running r JOIN limits l ON l.data_class = r.data_class
WHERE r.owners >= l.data_limit
