-- ---
-- id: enumeration
-- title: Sequential sweep of usernames or ids
-- severity: high
-- tos_clause: "4.2 No automated collection of other members' data"
-- description: >
--   Requests to one route family that walk its identifiers in order (usernames alphabetically,
--   post ids numerically), whoever sends them. Each request is linked to its neighbour: the
--   request for the nearest identifier a little before it (at most max_rank_step places back
--   among the identifiers requested that day) made closest in time to it, within
--   max_gap_seconds either way. Links go by identifier, not by arrival order, so other
--   people's requests in between, and requests arriving a little out of order, do not break a
--   walk. A sweep is a stretch of linked requests with no pause longer than max_gap_seconds
--   that reaches min_items identifiers at min_items_per_minute or faster (a slower walk is left
--   to the crawler policy: search engines walk public profiles in order too, at a polite rate),
--   mostly forward (at least min_order of its links to a neighbour requested before: a burst of
--   the same requests in no order is not a walk). Logged-out and logged-in traffic are linked
--   apart (a sweep is one or the other). The addresses of a sweep are linked into entities pair
--   by pair (link_group: a request's sender and its neighbour's), so that two sweeps walking at
--   the same time stay two; a pair is left out where two senders requested that neighbour about
--   as close in time (two walks crossing). A principal is part of a sweep when most of all its
--   requests that day are in sweeps: a visitor whose one view of a post happens to fall in the
--   sequence is browsing other pages too.
-- resets: day
-- parameters:
--   window_minutes: {type: int, default: 5, min: 1, max: 1440}
--   max_rank_step: {type: int, default: 3, min: 1}
--   max_gap_seconds: {type: float, default: 20.0, min: 1}
--   min_items: {type: int, default: 20, min: 3}
--   min_own_share: {type: float, default: 0.5, min: 0, max: 1}
--   min_items_per_minute: {type: float, default: 12.0, min: 0}
--   min_order: {type: float, default: 0.8, min: 0, max: 1}
-- explanation: >
--   part of a sweep over {items} consecutive identifiers of {route} by {principals} principals
--   in {sweep_seconds:.0f} s ({requests} requests by this one)
-- ---
WITH targets AS (
    SELECT actor_kind, actor_key, epoch_s, route,
           floor(epoch_s / 86400) AS day,
           floor(epoch_s / {{max_gap_seconds}}) AS slot,
           CASE WHEN route IN ('/p/{post_id:int}', '/api/v1/media/{post_id}')
                THEN lpad(regexp_extract(path, '([0-9]+)$', 1), 16, '0')
                ELSE path END AS item
    FROM events
    WHERE method = 'GET' AND path IS NOT NULL
      AND route IN ('/u/{username}', '/p/{post_id:int}', '/api/v1/media/{post_id}',
                    '/api/v1/users/by-username/{username}')
),
ranked AS (
    SELECT *,
           dense_rank() OVER (PARTITION BY route, day, actor_kind ORDER BY item) AS r,
           row_number() OVER (ORDER BY route, day, actor_kind, epoch_s, item, actor_key) AS id
    FROM targets
),
keyed AS (
    -- identifiers in blocks of max_rank_step and time in slots of max_gap_seconds: a neighbour
    -- is in this block or the one before, in this slot or the next or the one before
    SELECT *, floor(r / {{max_rank_step}}) AS block FROM ranked
),
candidates AS (
    SELECT q.id, q.r, q.epoch_s, p.r AS prev_r, p.epoch_s AS prev_t, p.actor_key AS prev_key,
           abs(p.epoch_s - q.epoch_s) AS apart
    FROM keyed q
    CROSS JOIN (VALUES (-1, 0), (0, 0), (1, 0), (-1, 1), (0, 1), (1, 1))
        AS o(slot_back, block_back)
    JOIN keyed p
      ON p.route = q.route AND p.day = q.day AND p.actor_kind = q.actor_kind
     AND p.slot = q.slot - o.slot_back AND p.block = q.block - o.block_back
    WHERE p.r < q.r AND p.r >= q.r - {{max_rank_step}}
      AND abs(p.epoch_s - q.epoch_s) <= {{max_gap_seconds}}
),
nearest AS (
    SELECT *,
           row_number() OVER (PARTITION BY id ORDER BY prev_r DESC, apart, prev_key, prev_t)
               AS choice,
           max(prev_r) OVER (PARTITION BY id) AS best_r
    FROM candidates
),
rivals AS (
    -- per identifier near each request, its senders by how close in time they requested it
    SELECT id, prev_r, prev_key, min(apart) AS apart,
           row_number() OVER (PARTITION BY id, prev_r ORDER BY min(apart), prev_key) AS place
    FROM candidates
    GROUP BY id, prev_r, prev_key
),
steps AS (
    -- each request with a neighbour: its sender, whether the neighbour came before it, and
    -- whether it is unambiguous (no other sender requested it about as close in time)
    SELECT k.route, k.day, k.actor_kind, k.actor_key, k.epoch_s, k.r, c.prev_key,
           CASE WHEN c.prev_t <= c.epoch_s THEN 1.0 ELSE 0.0 END AS forward,
           o.apart IS NULL OR o.apart > 2 * c.apart + 1 AS unambiguous
    FROM nearest c
    JOIN keyed k ON k.id = c.id
    LEFT JOIN rivals o ON o.id = c.id AND o.prev_r = c.best_r AND o.place = 2
    WHERE c.choice = 1
),
stretches AS (
    SELECT *, sum(starts) OVER (PARTITION BY route, day, actor_kind ORDER BY epoch_s, r
                                ROWS UNBOUNDED PRECEDING) AS sweep
    FROM (SELECT *,
                 CASE WHEN epoch_s - lag(epoch_s) OVER (PARTITION BY route, day, actor_kind
                                                        ORDER BY epoch_s, r)
                           <= {{max_gap_seconds}} THEN 0 ELSE 1 END AS starts
          FROM steps) s
),
firsts AS (
    -- each identifier the first time a stretch reaches it, numbered in time order
    SELECT route, day, actor_kind, sweep, epoch_s,
           row_number() OVER (PARTITION BY route, day, actor_kind, sweep ORDER BY epoch_s, r)
               AS position
    FROM (SELECT *, row_number() OVER (PARTITION BY route, day, actor_kind, sweep, r
                                       ORDER BY epoch_s) AS nth
          FROM stretches) x
    WHERE nth = 1
),
fast AS (
    -- when a stretch had reached min_items identifiers within the time the slowest sweep takes
    SELECT a.route, a.day, a.actor_kind, a.sweep, min(a.epoch_s) AS fired_t
    FROM firsts a
    JOIN firsts b ON b.route = a.route AND b.day = a.day AND b.actor_kind = a.actor_kind
                 AND b.sweep = a.sweep AND b.position = a.position - {{min_items}} + 1
    WHERE (a.epoch_s - b.epoch_s) * {{min_items_per_minute}} <= {{min_items}} * 60
    GROUP BY a.route, a.day, a.actor_kind, a.sweep
),
sweeps AS (
    SELECT s.route, s.day, s.actor_kind, s.sweep, f.fired_t,
           count(DISTINCT s.r) AS items, count(DISTINCT s.actor_key) AS principals,
           min(s.epoch_s) AS first_t, max(s.epoch_s) AS last_t
    FROM stretches s
    JOIN fast f ON f.route = s.route AND f.day = s.day AND f.actor_kind = s.actor_kind
               AND f.sweep = s.sweep
    GROUP BY s.route, s.day, s.actor_kind, s.sweep, f.fired_t
    HAVING avg(s.forward) >= {{min_order}}
),
swept AS (
    SELECT s.actor_kind, s.actor_key, s.epoch_s, s.prev_key, s.unambiguous, w.route, w.day,
           w.sweep, w.items, w.principals, w.first_t, w.last_t,
           greatest(w.fired_t, s.epoch_s) AS known_t
    FROM stretches s
    JOIN sweeps w ON w.route = s.route AND w.day = s.day AND w.actor_kind = s.actor_kind
                 AND w.sweep = s.sweep
),
own AS (
    SELECT floor(epoch_s / 86400) AS day, actor_kind, actor_key, count(*) AS all_requests
    FROM events
    GROUP BY floor(epoch_s / 86400), actor_kind, actor_key
),
principals AS (
    SELECT day, actor_kind, actor_key, min(route) AS route, max(items) AS items,
           max(principals) AS principals, min(first_t) AS first_t,
           max(last_t) - min(first_t) AS sweep_seconds, min(known_t) AS fired_t,
           count(*) AS requests
    FROM swept
    GROUP BY day, actor_kind, actor_key
),
flagged AS (
    SELECT p.*
    FROM principals p
    JOIN own o ON o.day = p.day AND o.actor_kind = p.actor_kind AND o.actor_key = p.actor_key
    WHERE p.requests >= {{min_own_share}} * o.all_requests
),
pairs AS (
    SELECT day, actor_kind, actor_key, prev_key,
           actor_kind || ':' || least(actor_key, prev_key) || '|'
               || greatest(actor_key, prev_key) AS link_group
    FROM swept
    WHERE unambiguous AND prev_key <> actor_key
),
labels AS (
    -- both ends of each pair carry its label
    SELECT day, actor_kind, actor_key, link_group FROM pairs
    UNION
    SELECT day, actor_kind, prev_key AS actor_key, link_group FROM pairs
)
SELECT f.actor_kind, f.actor_key,
       f.first_t AS window_start,
       (floor(f.fired_t / ({{window_minutes}} * 60)) + 1) * {{window_minutes}} * 60 AS window_end,
       LEAST(1.0, 0.6 + 0.4 * f.items / (5.0 * {{min_items}})) AS score,
       l.link_group, f.route, f.items, f.principals, f.sweep_seconds, f.requests
FROM flagged f
LEFT JOIN labels l ON l.day = f.day AND l.actor_kind = f.actor_kind AND l.actor_key = f.actor_key
