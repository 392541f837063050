-- ---
-- id: breadth_social
-- title: Views of many people outside the account's social neighbourhood
-- severity: high
-- tos_clause: "4.2 No automated collection of other members' data"
-- description: >
--   With the follows table: the distinct owners an account viewed that are outside its 2-hop
--   neighbourhood (neither followed nor followed by someone it follows), and their share of all
--   the owners it viewed, accumulated since the start of the horizon.
-- needs: [follows]
-- resets: horizon
-- parameters:
--   window_minutes: {type: int, default: 10, min: 1, max: 1440}
--   horizon_hours: {type: int, default: 24, min: 1, max: 168}
--   min_outside: {type: int, default: 25, min: 1}
--   min_outside_share: {type: float, default: 0.5, min: 0, max: 1}
-- explanation: >
--   {outside} of the {owners} people viewed are outside the account's 2-hop neighbourhood
-- ---
WITH viewed AS (
    SELECT actor_key AS account, owner,
           floor(epoch_s / ({{horizon_hours}} * 3600)) AS horizon,
           min(floor(epoch_s / ({{window_minutes}} * 60))) AS w
    FROM event_owners
    WHERE actor_kind = 'account' AND status = 200 AND owner <> actor_key AND owners_shown = 1
      AND resource IN ('profile', 'post', 'story', 'media')
    GROUP BY actor_key, owner, floor(epoch_s / ({{horizon_hours}} * 3600))
),
near AS (
    SELECT DISTINCT v.account, v.owner
    FROM viewed v JOIN follows f1 ON f1.follower = v.account
    WHERE f1.followee = v.owner
    UNION
    SELECT DISTINCT v.account, v.owner
    FROM viewed v
    JOIN follows f1 ON f1.follower = v.account
    JOIN follows f2 ON f2.follower = f1.followee AND f2.followee = v.owner
),
marked AS (
    SELECT v.account, v.horizon, v.w,
           CASE WHEN n.owner IS NULL THEN 1 ELSE 0 END AS outside
    FROM viewed v LEFT JOIN near n ON n.account = v.account AND n.owner = v.owner
),
running AS (
    SELECT account, horizon, w,
           sum(count(*)) OVER acc AS owners, sum(sum(outside)) OVER acc AS outside
    FROM marked GROUP BY account, horizon, w
    WINDOW acc AS (PARTITION BY account, horizon ORDER BY w ROWS UNBOUNDED PRECEDING)
)
SELECT 'account' AS actor_kind, account AS actor_key,
       horizon * {{horizon_hours}} * 3600 AS window_start,
       (w + 1) * {{window_minutes}} * 60 AS window_end,
       LEAST(1.0, 0.5 + 0.5 * (outside * 1.0 / owners - {{min_outside_share}})
                      / (1.0 - {{min_outside_share}} + 0.000001)) AS score,
       owners, outside, outside * 1.0 / owners AS outside_share
FROM running
WHERE outside >= {{min_outside}} AND outside >= {{min_outside_share}} * owners
