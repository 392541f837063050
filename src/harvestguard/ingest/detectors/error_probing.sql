-- ---
-- id: log_error_probing
-- title: Probing for URLs that do not exist
-- severity: high
-- tos_clause: "4.3 No excessive or automated requests"
-- description: >
--   Distinct page URLs (not assets) one address requested in window_minutes that the server
--   answered 400, 403 or 404. A reader follows links that work and meets a missing page now and
--   then; a scanner tries lists of paths that mostly do not exist. Windows are counted at two
--   alignments (on the window and half a window later) so a probe is not cut in two.
-- parameters:
--   window_minutes: {type: int, default: 10, min: 1, max: 1440}
--   min_paths: {type: int, default: 10, min: 2}
-- explanation: >
--   {error_paths} distinct URLs answered 400/403/404 within {window_minutes} minutes
--   ({error_requests} such requests)
-- ---
WITH errors AS (
    SELECT ip, epoch_s, path
    FROM events
    WHERE ip IS NOT NULL AND status IN (400, 403, 404)
      AND (route IS NULL OR route <> '(static)')
),
windows AS (
    SELECT ip, 0 AS shift, floor(epoch_s / ({{window_minutes}} * 60)) AS w, path FROM errors
    UNION ALL
    SELECT ip, 1 AS shift, floor(epoch_s / ({{window_minutes}} * 60) + 0.5) AS w, path FROM errors
),
counted AS (
    SELECT ip, shift, w, count(DISTINCT path) AS error_paths, count(*) AS error_requests
    FROM windows GROUP BY ip, shift, w
    HAVING count(DISTINCT path) >= {{min_paths}}
)
SELECT 'ip' AS actor_kind, ip AS actor_key,
       (w - 0.5 * shift) * {{window_minutes}} * 60 AS window_start,
       (w - 0.5 * shift + 1) * {{window_minutes}} * 60 AS window_end,
       LEAST(1.0, 0.6 + 0.4 * (error_paths - {{min_paths}}) / (4.0 * {{min_paths}})) AS score,
       error_paths, error_requests, {{window_minutes}} AS window_minutes
FROM counted
