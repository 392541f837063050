-- ---
-- id: enumeration
-- title: Sequential sweep of usernames or ids
-- severity: high
-- tos_clause: "4.2 No automated collection of other members' data"
-- description: >
--   Requests to one route family that walk its identifiers in order (usernames alphabetically,
--   post ids numerically) as time goes on, whoever sends them: in time order, each request is
--   for an identifier a little after one requested a few seconds earlier (one of the previous
--   three requests, so that other people's requests in between do not break the walk). Requests
--   with no such neighbour either way are set aside before chaining. Logged-out and logged-in
--   traffic are chained apart (a sweep is one or the other), so that busy logged-in browsing of
--   the same pages does not break a logged-out chain. A sweep spread over hundreds of addresses
--   is one chain; its addresses are linked into one entity (link_group). A principal is part of a
--   sweep when most of all its requests that day are in sweeps: a visitor whose one view of a
--   post happens to fall in the sequence is browsing other pages too. A sweep slower than min_items_per_minute is
--   left to the crawler policy (robots.txt, the allow-list): search engines walk public profiles
--   in order too, at a polite rate.
-- resets: day
-- parameters:
--   window_minutes: {type: int, default: 5, min: 1, max: 1440}
--   bucket_minutes: {type: int, default: 30, min: 1, max: 1440}
--   max_rank_step: {type: int, default: 3, min: 1}
--   max_gap_seconds: {type: float, default: 20.0, min: 0}
--   min_items: {type: int, default: 20, min: 3}
--   min_own_share: {type: float, default: 0.5, min: 0, max: 1}
--   min_items_per_minute: {type: float, default: 12.0, min: 0}
-- explanation: >
--   part of a sweep over {items} consecutive identifiers of {route} by {principals} principals
--   in {sweep_seconds:.0f} s ({requests} requests by this one)
-- ---
WITH targets AS (
    SELECT actor_kind, actor_key, epoch_s, route,
           floor(epoch_s / ({{bucket_minutes}} * 60)) AS bucket,
           CASE WHEN route IN ('/p/{post_id:int}', '/api/v1/media/{post_id}')
                THEN lpad(regexp_extract(path, '([0-9]+)$', 1), 16, '0')
                ELSE path END AS item
    FROM events
    WHERE method = 'GET' AND path IS NOT NULL
      AND route IN ('/u/{username}', '/p/{post_id:int}', '/api/v1/media/{post_id}',
                    '/api/v1/users/by-username/{username}')
),
ranked AS (
    SELECT *, dense_rank() OVER (PARTITION BY route, bucket, actor_kind ORDER BY item) AS r
    FROM targets
),
neighbours AS (
    SELECT *,
           lag(r, 1) OVER timed AS rp1, lag(epoch_s, 1) OVER timed AS tp1,
           lag(r, 2) OVER timed AS rp2, lag(epoch_s, 2) OVER timed AS tp2,
           lag(r, 3) OVER timed AS rp3, lag(epoch_s, 3) OVER timed AS tp3,
           lead(r, 1) OVER timed AS rn1, lead(epoch_s, 1) OVER timed AS tn1,
           lead(r, 2) OVER timed AS rn2, lead(epoch_s, 2) OVER timed AS tn2,
           lead(r, 3) OVER timed AS rn3, lead(epoch_s, 3) OVER timed AS tn3
    FROM ranked
    WINDOW timed AS (PARTITION BY route, bucket, actor_kind ORDER BY epoch_s, r)
),
stepping AS (
    SELECT actor_kind, actor_key, epoch_s, route, bucket, r
    FROM neighbours
    WHERE (r - rp1 BETWEEN 1 AND {{max_rank_step}} AND epoch_s - tp1 <= {{max_gap_seconds}})
       OR (r - rp2 BETWEEN 1 AND {{max_rank_step}} AND epoch_s - tp2 <= {{max_gap_seconds}})
       OR (r - rp3 BETWEEN 1 AND {{max_rank_step}} AND epoch_s - tp3 <= {{max_gap_seconds}})
       OR (rn1 - r BETWEEN 1 AND {{max_rank_step}} AND tn1 - epoch_s <= {{max_gap_seconds}})
       OR (rn2 - r BETWEEN 1 AND {{max_rank_step}} AND tn2 - epoch_s <= {{max_gap_seconds}})
       OR (rn3 - r BETWEEN 1 AND {{max_rank_step}} AND tn3 - epoch_s <= {{max_gap_seconds}})
),
steps AS (
    SELECT *,
           CASE WHEN (r - lag(r, 1) OVER timed BETWEEN 0 AND {{max_rank_step}}
                      AND epoch_s - lag(epoch_s, 1) OVER timed <= {{max_gap_seconds}})
                  OR (r - lag(r, 2) OVER timed BETWEEN 0 AND {{max_rank_step}}
                      AND epoch_s - lag(epoch_s, 2) OVER timed <= {{max_gap_seconds}})
                THEN 0 ELSE 1 END AS starts
    FROM stepping
    WINDOW timed AS (PARTITION BY route, bucket, actor_kind ORDER BY epoch_s, r)
),
chained AS (
    SELECT *, sum(starts) OVER (PARTITION BY route, bucket, actor_kind ORDER BY epoch_s, r
                                ROWS UNBOUNDED PRECEDING) AS chain
    FROM steps
),
numbered AS (
    SELECT *, dense_rank() OVER (PARTITION BY route, bucket, actor_kind, chain ORDER BY r)
                  AS position
    FROM chained
),
own AS (
    SELECT floor(epoch_s / 86400) AS day, actor_kind, actor_key, count(*) AS all_requests
    FROM events
    GROUP BY floor(epoch_s / 86400), actor_kind, actor_key
),
sweeps AS (
    SELECT route, bucket, actor_kind AS principal_kind, chain, count(DISTINCT r) AS items,
           count(DISTINCT actor_kind || ':' || actor_key) AS principals,
           min(epoch_s) AS first_t, max(epoch_s) AS last_t,
           min(CASE WHEN position >= {{min_items}} THEN epoch_s END) AS fired_t
    FROM numbered
    GROUP BY route, bucket, actor_kind, chain
    HAVING count(DISTINCT r) >= {{min_items}}
       AND count(DISTINCT r) * 60.0 >= {{min_items_per_minute}} * (max(epoch_s) - min(epoch_s) + 1)
),
swept AS (
    SELECT n.actor_kind, n.actor_key, n.epoch_s, s.route, s.bucket, s.principal_kind, s.chain,
           s.items, s.principals, s.first_t, s.last_t, s.fired_t
    FROM numbered n
    JOIN sweeps s ON s.route = n.route AND s.bucket = n.bucket
                 AND s.principal_kind = n.actor_kind AND s.chain = n.chain
),
in_sweeps AS (
    SELECT floor(epoch_s / 86400) AS day, actor_kind, actor_key, count(*) AS swept_requests
    FROM swept GROUP BY floor(epoch_s / 86400), actor_kind, actor_key
)
SELECT w.actor_kind, w.actor_key,
       w.first_t AS window_start,
       (floor(w.fired_t / ({{window_minutes}} * 60)) + 1) * {{window_minutes}} * 60 AS window_end,
       LEAST(1.0, 0.6 + 0.4 * w.items / (5.0 * {{min_items}})) AS score,
       w.route || '@' || CAST(w.bucket AS VARCHAR) || '/' || w.principal_kind || '#'
           || CAST(w.chain AS VARCHAR) AS link_group,
       w.route AS route, w.items AS items, w.principals AS principals,
       w.last_t - w.first_t AS sweep_seconds, count(*) AS requests
FROM swept w
JOIN in_sweeps i ON i.day = floor(w.epoch_s / 86400)
                AND i.actor_kind = w.actor_kind AND i.actor_key = w.actor_key
JOIN own o ON o.day = i.day AND o.actor_kind = w.actor_kind AND o.actor_key = w.actor_key
GROUP BY w.actor_kind, w.actor_key, w.route, w.bucket, w.principal_kind, w.chain, w.items,
         w.principals, w.first_t, w.last_t, w.fired_t
HAVING max(i.swept_requests) >= {{min_own_share}} * max(o.all_requests)
