-- ---
-- id: volume_peer
-- title: Request volume far above its peers
-- severity: medium
-- tos_clause: "4.3 No excessive or automated requests"
-- description: >
--   Requests per principal in each window against the other principals of the same kind in the
--   same window: robust z-score from the median and the median absolute deviation (MAD), so the
--   bar moves with the traffic instead of being a fixed number. A floor keeps tiny windows quiet.
-- resets: window
-- parameters:
--   window_minutes: {type: int, default: 10, min: 1, max: 1440}
--   min_z: {type: float, default: 8.0, min: 1}
--   min_requests: {type: int, default: 120, min: 1}
--   min_peers: {type: int, default: 5, min: 1}
-- explanation: >
--   {requests} requests in {window_minutes} minutes, {robust_z:.1f} robust deviations above
--   the {peers} peers of its kind (median {peer_median})
-- ---
WITH counts AS (
    SELECT actor_kind, actor_key, floor(epoch_s / ({{window_minutes}} * 60)) AS w,
           count(*) AS requests
    FROM events
    GROUP BY actor_kind, actor_key, floor(epoch_s / ({{window_minutes}} * 60))
),
medians AS (
    SELECT actor_kind, w, median(requests) AS peer_median, count(*) AS peers
    FROM counts GROUP BY actor_kind, w
),
deviations AS (
    SELECT c.actor_kind, c.w, median(abs(c.requests - m.peer_median)) AS mad
    FROM counts c JOIN medians m ON m.actor_kind = c.actor_kind AND m.w = c.w
    GROUP BY c.actor_kind, c.w
),
scored AS (
    SELECT c.actor_kind, c.actor_key, c.w, c.requests, m.peer_median, m.peers, d.mad,
           (c.requests - m.peer_median) / (1.4826 * d.mad + 1.0) AS robust_z
    FROM counts c
    JOIN medians m ON m.actor_kind = c.actor_kind AND m.w = c.w
    JOIN deviations d ON d.actor_kind = c.actor_kind AND d.w = c.w
)
SELECT actor_kind, actor_key,
       w * {{window_minutes}} * 60 AS window_start,
       (w + 1) * {{window_minutes}} * 60 AS window_end,
       LEAST(1.0, 0.5 * robust_z / {{min_z}}) AS score,
       requests, peer_median, peers, robust_z, {{window_minutes}} AS window_minutes
FROM scored
WHERE robust_z >= {{min_z}} AND requests >= {{min_requests}} AND peers >= {{min_peers}}
