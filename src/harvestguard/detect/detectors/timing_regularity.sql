-- ---
-- id: timing_regularity
-- title: Machine-regular request timing from one address
-- severity: low
-- tos_clause: "4.3 No excessive or automated requests"
-- description: >
--   The coefficient of variation (standard deviation / mean) of the gaps between an address's
--   requests in a window. People browse in bursts and pauses (a CV near or above 1, more behind a
--   shared address); a scheduler on a clock is regular. A supporting signal: alone it does not
--   flag anyone, because polite crawlers are regular too.
-- resets: window
-- parameters:
--   window_minutes: {type: int, default: 120, min: 1, max: 1440}
--   min_requests: {type: int, default: 20, min: 3}
--   max_cv: {type: float, default: 0.35, min: 0}
-- explanation: >
--   {requests} requests in {window_minutes} minutes with gaps of {mean_gap:.1f} s +/- {cv:.0%}
-- ---
WITH gaps AS (
    SELECT ip, floor(epoch_s / ({{window_minutes}} * 60)) AS w,
           epoch_s - lag(epoch_s) OVER (PARTITION BY ip, floor(epoch_s / ({{window_minutes}} * 60))
                                       ORDER BY epoch_s) AS gap
    FROM events WHERE ip IS NOT NULL
),
stats AS (
    SELECT ip, w, count(*) AS requests, avg(gap) AS mean_gap, stddev_samp(gap) AS sd_gap
    FROM gaps GROUP BY ip, w
)
SELECT 'ip' AS actor_kind, ip AS actor_key,
       w * {{window_minutes}} * 60 AS window_start,
       (w + 1) * {{window_minutes}} * 60 AS window_end,
       LEAST(1.0, 0.5 + 0.5 * (1.0 - sd_gap / mean_gap / {{max_cv}})) AS score,
       requests, mean_gap, sd_gap / mean_gap AS cv, {{window_minutes}} AS window_minutes
FROM stats
WHERE requests >= {{min_requests}} AND mean_gap > 0 AND sd_gap / mean_gap <= {{max_cv}}
