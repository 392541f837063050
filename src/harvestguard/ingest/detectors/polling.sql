-- ---
-- id: log_polling
-- title: The same page fetched again and again, all day
-- severity: medium
-- tos_clause: "4.3 No excessive or automated requests"
-- description: >
--   One address fetching one page URL at least min_fetches times, spread over at least
--   min_span_hours, within a day: a program polling it (a feed reader, a monitor, a scraper
--   watching for changes). People reload a page a few times, not every few minutes for hours.
-- parameters:
--   horizon_hours: {type: int, default: 24, min: 1, max: 168}
--   min_fetches: {type: int, default: 20, min: 2}
--   min_span_hours: {type: float, default: 4.0, min: 0}
-- explanation: >
--   fetched {target} {fetches} times over {span_hours:.1f} hours
-- ---
WITH fetches AS (
    SELECT ip, path AS target, floor(epoch_s / ({{horizon_hours}} * 3600)) AS h,
           count(*) AS fetches, min(epoch_s) AS first_t, max(epoch_s) AS last_t
    FROM events
    WHERE ip IS NOT NULL AND (route IS NULL OR route <> '(static)') AND method IN ('GET', 'HEAD')
    GROUP BY ip, path, floor(epoch_s / ({{horizon_hours}} * 3600))
    HAVING count(*) >= {{min_fetches}}
       AND max(epoch_s) - min(epoch_s) >= {{min_span_hours}} * 3600
)
SELECT 'ip' AS actor_kind, ip AS actor_key, first_t AS window_start, last_t AS window_end,
       LEAST(1.0, 0.6 + 0.4 * (fetches - {{min_fetches}}) / (10.0 * {{min_fetches}})) AS score,
       target, fetches, (last_t - first_t) / 3600.0 AS span_hours
FROM fetches
