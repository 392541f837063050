-- ---
-- id: breadth
-- title: Personal data of many strangers
-- severity: high
-- tos_clause: "4.2 No automated collection of other members' data"
-- description: >
--   An account that views the profiles, posts and stories of many people it does not follow
--   (the policy's audience is not follower or owner) and mostly such strangers, or of a very
--   large number of them whatever the share, accumulated since the start of the horizon. People
--   mostly browse their own circle; the busiest also see many strangers, but as a minority.
-- resets: horizon
-- parameters:
--   window_minutes: {type: int, default: 10, min: 1, max: 1440}
--   horizon_hours: {type: int, default: 24, min: 1, max: 168}
--   min_strangers: {type: int, default: 1000, min: 1}
--   min_share_strangers: {type: int, default: 100, min: 1}
--   min_stranger_share: {type: float, default: 0.8, min: 0, max: 1}
-- explanation: >
--   {strangers} people viewed without a follow tie ({stranger_share:.0%} of {views} content
--   views) since {window_start}
-- ---
WITH views AS (
    SELECT actor_kind, actor_key, owner, epoch_s,
           floor(epoch_s / ({{horizon_hours}} * 3600)) AS horizon,
           floor(epoch_s / ({{window_minutes}} * 60)) AS w,
           CASE WHEN audience IN ('authenticated', 'anonymous') THEN 1 ELSE 0 END AS stranger
    FROM event_owners
    WHERE actor_kind = 'account' AND status = 200 AND owners_shown = 1
      AND resource IN ('profile', 'post', 'story', 'media')
),
firsts AS (
    SELECT actor_kind, actor_key, horizon, owner, min(w) AS w
    FROM views WHERE stranger = 1
    GROUP BY actor_kind, actor_key, horizon, owner
),
new_strangers AS (
    SELECT actor_kind, actor_key, horizon, w, count(*) AS added
    FROM firsts GROUP BY actor_kind, actor_key, horizon, w
),
per_window AS (
    SELECT actor_kind, actor_key, horizon, w, count(*) AS views, sum(stranger) AS stranger_views
    FROM views GROUP BY actor_kind, actor_key, horizon, w
),
running AS (
    SELECT p.actor_kind, p.actor_key, p.horizon, p.w,
           sum(p.views) OVER (PARTITION BY p.actor_kind, p.actor_key, p.horizon ORDER BY p.w
                              ROWS UNBOUNDED PRECEDING) AS views,
           sum(p.stranger_views) OVER (PARTITION BY p.actor_kind, p.actor_key, p.horizon
                                       ORDER BY p.w ROWS UNBOUNDED PRECEDING) AS stranger_views,
           sum(COALESCE(n.added, 0)) OVER (PARTITION BY p.actor_kind, p.actor_key, p.horizon
                                           ORDER BY p.w ROWS UNBOUNDED PRECEDING) AS strangers
    FROM per_window p
    LEFT JOIN new_strangers n
      ON n.actor_kind = p.actor_kind AND n.actor_key = p.actor_key
     AND n.horizon = p.horizon AND n.w = p.w
)
SELECT actor_kind, actor_key,
       horizon * {{horizon_hours}} * 3600 AS window_start,
       (w + 1) * {{window_minutes}} * 60 AS window_end,
       GREATEST(
           LEAST(1.0, 0.6 + 0.4 * (strangers - {{min_strangers}}) / {{min_strangers}}),
           CASE WHEN strangers >= {{min_share_strangers}}
                     AND stranger_views >= {{min_stranger_share}} * views
                THEN LEAST(1.0, 0.6 + (stranger_views * 1.0 / views - {{min_stranger_share}}))
                ELSE 0.0 END
       ) AS score,
       strangers, views, stranger_views,
       stranger_views * 1.0 / views AS stranger_share
FROM running
WHERE strangers >= {{min_strangers}}
   OR (strangers >= {{min_share_strangers}} AND stranger_views >= {{min_stranger_share}} * views)
