-- ---
-- id: popularity_sweep
-- title: Strangers' profiles visited in order of popularity
-- severity: high
-- tos_clause: "4.2 No automated collection of other members' data"
-- description: >
--   Harvesting tools walk ranked lists ("the most followed accounts of a city") from the top,
--   slowly and with human timing. For each account, the strangers whose profiles it opened, in
--   the order it first opened them, against their popularity (followers in the follows table
--   when given, otherwise the distinct accounts seen viewing them as followers): a steady fall in
--   popularity over many strangers is a walk down a list. People meet strangers through friends,
--   in no such order. The strength is the Fisher z of the correlation, sqrt(n - 3) * atanh(-r),
--   so few strangers never suffice.
-- uses: [follows]
-- parameters:
--   window_minutes: {type: int, default: 10, min: 1, max: 1440}
--   horizon_hours: {type: int, default: 24, min: 1, max: 168}
--   min_strangers: {type: int, default: 15, min: 4}
--   min_z: {type: float, default: 4.4, min: 0}
-- explanation: >
--   {strangers} strangers' profiles opened in falling order of popularity (correlation
--   {correlation:.2f}, z = {z:.1f})
-- ---
WITH declared AS (
    SELECT followee AS owner, count(*) AS followers FROM follows GROUP BY followee
),
observed AS (
    -- distinct accounts seen viewing each owner as followers (pairs first: cheaper than a
    -- count of distinct values per owner)
    SELECT owner, count(actor_key) AS followers
    FROM (SELECT DISTINCT owner, actor_key FROM event_owners
          WHERE actor_kind = 'account' AND audience = 'follower') follower_views
    GROUP BY owner
),
popularity AS (
    SELECT o.owner, COALESCE(d.followers, o.followers) AS followers
    FROM observed o LEFT JOIN declared d ON d.owner = o.owner
    UNION ALL
    SELECT d.owner, d.followers FROM declared d
    WHERE NOT EXISTS (SELECT 1 FROM observed o WHERE o.owner = d.owner)
),
strangers AS (
    SELECT actor_key, object_id AS owner,
           floor(epoch_s / ({{horizon_hours}} * 3600)) AS horizon, min(epoch_s) AS first_t
    FROM events
    WHERE actor_kind = 'account' AND route = '/u/{username}' AND status = 200
      AND audience = 'authenticated' AND object_id IS NOT NULL
    GROUP BY actor_key, object_id, floor(epoch_s / ({{horizon_hours}} * 3600))
),
ordered AS (
    SELECT s.actor_key, s.horizon, s.first_t,
           row_number() OVER (PARTITION BY s.actor_key, s.horizon ORDER BY s.first_t, s.owner)
               AS x,
           ln(1.0 + COALESCE(p.followers, 0)) AS y
    FROM strangers s LEFT JOIN popularity p ON p.owner = s.owner
),
sums AS (
    SELECT actor_key, horizon, first_t,
           count(*) OVER acc AS n, sum(x) OVER acc AS sx, sum(y) OVER acc AS sy,
           sum(x * y) OVER acc AS sxy, sum(x * x) OVER acc AS sxx, sum(y * y) OVER acc AS syy
    FROM ordered
    WINDOW acc AS (PARTITION BY actor_key, horizon ORDER BY x ROWS UNBOUNDED PRECEDING)
),
correlated AS (
    SELECT actor_key, horizon, first_t, n,
           CASE WHEN (n * sxx - sx * sx) * (n * syy - sy * sy) > 0
                THEN (n * sxy - sx * sy) / sqrt((n * sxx - sx * sx) * (n * syy - sy * sy))
                END AS r
    FROM sums WHERE n >= {{min_strangers}}
),
scored AS (
    SELECT *, sqrt(n - 3.0) * 0.5 * ln((1.0 - r) / (1.0 + r)) AS z
    FROM correlated WHERE r IS NOT NULL AND r > -0.999999
)
SELECT 'account' AS actor_kind, actor_key,
       horizon * {{horizon_hours}} * 3600 AS window_start,
       (floor(first_t / ({{window_minutes}} * 60)) + 1) * {{window_minutes}} * 60 AS window_end,
       LEAST(1.0, 0.6 + 0.4 * (z - {{min_z}}) / {{min_z}}) AS score,
       n AS strangers, r AS correlation, z
FROM scored
WHERE z >= {{min_z}}
