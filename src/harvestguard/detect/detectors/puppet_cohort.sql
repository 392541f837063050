-- ---
-- id: puppet_cohort
-- title: Cohort of accounts on one browser build, each slowly viewing only strangers
-- severity: high
-- tos_clause: "3.1 Accounts are for people, not for automated collection"
-- description: >
--   A distributed scraper keeps each account under any per-account limit, but its accounts look
--   alike: nearly all their views are of strangers (no follow tie), at a steady, unhurried pace,
--   from the same browser build (header fingerprint). When at least min_cohort accounts that used
--   one fingerprint in the horizon qualify at the same time (each judged on its views so far in
--   the horizon), every one of them is reported. The cohort is
--   evidence, not a link: a browser build is shared by strangers, and two scrapers may use the
--   same one. Accounts that view strangers in bursts (the fresh-account rush) are left to their own
--   detectors. People who see mostly strangers are rare, and rarely several on one browser build.
-- resets: horizon
-- parameters:
--   window_minutes: {type: int, default: 10, min: 1, max: 1440}
--   horizon_hours: {type: int, default: 24, min: 1, max: 168}
--   min_strangers: {type: int, default: 25, min: 1}
--   min_stranger_share: {type: float, default: 0.95, min: 0, max: 1}
--   max_strangers_per_window: {type: int, default: 20, min: 1}
--   min_cohort: {type: int, default: 5, min: 2}
-- explanation: >
--   one of {cohort} accounts on one browser build that each view almost only strangers
--   ({strangers} strangers, {stranger_share:.0%} of its views)
-- ---
WITH views AS (
    SELECT actor_key, owner,
           floor(epoch_s / ({{horizon_hours}} * 3600)) AS horizon,
           floor(epoch_s / ({{window_minutes}} * 60)) AS w,
           CASE WHEN audience IN ('authenticated', 'anonymous') THEN 1 ELSE 0 END AS stranger
    FROM event_owners
    WHERE actor_kind = 'account' AND status = 200 AND owners_shown = 1
      AND resource IN ('profile', 'post', 'story', 'media')
),
firsts AS (
    SELECT actor_key, horizon, owner, min(w) AS w
    FROM views WHERE stranger = 1 GROUP BY actor_key, horizon, owner
),
per_window AS (
    SELECT v.actor_key, v.horizon, v.w, count(*) AS views, sum(v.stranger) AS stranger_views,
           max(COALESCE(f.added, 0)) AS added
    FROM views v
    LEFT JOIN (SELECT actor_key, horizon, w, count(*) AS added FROM firsts
               GROUP BY actor_key, horizon, w) f
      ON f.actor_key = v.actor_key AND f.horizon = v.horizon AND f.w = v.w
    GROUP BY v.actor_key, v.horizon, v.w
),
running AS (
    SELECT actor_key, horizon, w,
           sum(views) OVER acc AS views, sum(stranger_views) OVER acc AS stranger_views,
           sum(added) OVER acc AS strangers, max(added) OVER acc AS burst
    FROM per_window
    WINDOW acc AS (PARTITION BY actor_key, horizon ORDER BY w ROWS UNBOUNDED PRECEDING)
),
status AS (
    SELECT actor_key, horizon, w, strangers, views, stranger_views,
           CASE WHEN strangers >= {{min_strangers}}
                     AND stranger_views >= {{min_stranger_share}} * views
                     AND burst <= {{max_strangers_per_window}} THEN 1 ELSE 0 END AS qualifies
    FROM running
),
changes AS (
    SELECT *, qualifies - COALESCE(lag(qualifies) OVER (PARTITION BY actor_key, horizon
                                                        ORDER BY w), 0) AS delta
    FROM status
),
candidates AS (
    SELECT DISTINCT actor_key, horizon FROM status WHERE qualifies = 1
),
builds AS (
    -- the browser builds an account used in the horizon it is judged in: a row depends only on
    -- the events of its horizon (resets: horizon)
    SELECT DISTINCT actor_account AS actor_key, fingerprint,
           floor(epoch_s / ({{horizon_hours}} * 3600)) AS horizon
    FROM events
    WHERE actor_account IS NOT NULL AND actor_client IS NULL
      AND fingerprint LIKE 'hdr:%'
),
sized AS (
    SELECT b.fingerprint, c.*,
           sum(c.delta) OVER (PARTITION BY b.fingerprint, c.horizon ORDER BY c.w
                              RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cohort
    FROM changes c
    JOIN candidates k ON k.actor_key = c.actor_key AND k.horizon = c.horizon
    JOIN builds b ON b.actor_key = c.actor_key AND b.horizon = c.horizon
),
reported AS (
    -- one row per account and cohort size: the first window it fired at that size
    SELECT *, row_number() OVER (PARTITION BY actor_key, horizon, cohort ORDER BY w, fingerprint)
                  AS nth
    FROM sized
    WHERE qualifies = 1 AND cohort >= {{min_cohort}}
)
SELECT 'account' AS actor_kind, actor_key,
       horizon * {{horizon_hours}} * 3600 AS window_start,
       (w + 1) * {{window_minutes}} * 60 AS window_end,
       LEAST(1.0, 0.6 + 0.4 * cohort / (4.0 * {{min_cohort}})) AS score,
       fingerprint AS browser_build, cohort, strangers,
       stranger_views * 1.0 / views AS stranger_share
FROM reported
WHERE nth = 1
