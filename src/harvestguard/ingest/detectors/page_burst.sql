-- ---
-- id: log_page_burst
-- title: Pages requested faster than anyone reads
-- severity: high
-- tos_clause: "4.3 No excessive or automated requests"
-- description: >
--   The most pages (not assets: images, styles, scripts, fonts) one address requested within
--   any window_seconds. A browser loads one page and its assets, and a reader needs seconds per
--   page; min_pages pages inside a minute is a program (a crawler, a scraper, a cache-busting or
--   random-URL flood). A sliding window, so a burst is not cut in two by a boundary.
-- parameters:
--   window_seconds: {type: int, default: 60, min: 1, max: 3600}
--   min_pages: {type: int, default: 30, min: 2}
-- explanation: >
--   {peak_pages} pages within {window_seconds} s ({distinct_targets} distinct URLs among them)
-- ---
WITH pages AS (
    SELECT ip, epoch_s, path
    FROM events
    WHERE ip IS NOT NULL AND (route IS NULL OR route <> '(static)')
),
candidates AS (
    -- only addresses with enough pages overall can burst: the window runs over few rows
    SELECT ip FROM pages GROUP BY ip HAVING count(*) >= {{min_pages}}
),
counted AS (
    SELECT p.ip, p.epoch_s,
           count(*) OVER (PARTITION BY p.ip ORDER BY p.epoch_s
                          RANGE BETWEEN {{window_seconds}} PRECEDING AND CURRENT ROW) AS n
    FROM pages p JOIN candidates c ON c.ip = p.ip
),
peaks AS (
    SELECT ip, max(n) AS peak_pages, min(CASE WHEN n >= {{min_pages}} THEN epoch_s END) AS fired
    FROM counted GROUP BY ip HAVING max(n) >= {{min_pages}}
),
distinct_targets AS (
    SELECT p.ip, count(DISTINCT p.path) AS distinct_targets
    FROM pages p JOIN peaks k ON k.ip = p.ip
    WHERE p.epoch_s BETWEEN k.fired - {{window_seconds}} AND k.fired
    GROUP BY p.ip
)
SELECT 'ip' AS actor_kind, k.ip AS actor_key,
       k.fired - {{window_seconds}} AS window_start, k.fired AS window_end,
       LEAST(1.0, 0.6 + 0.4 * (k.peak_pages - {{min_pages}}) / (4.0 * {{min_pages}})) AS score,
       k.peak_pages, d.distinct_targets, {{window_seconds}} AS window_seconds
FROM peaks k JOIN distinct_targets d ON d.ip = k.ip
