-- ---
-- id: log_robots_txt
-- title: Reads robots.txt
-- severity: medium
-- tos_clause: "4.3 No excessive or automated requests"
-- description: >
--   An address that fetched /robots.txt: browsers never do, crawlers do. It says "I am a
--   program" by behaviour, whatever its User-Agent says. Medium severity: a polite crawler is
--   no harvester by itself, so this needs a second signal to flag (and a verified crawler is
--   labelled, not flagged).
-- explanation: "fetched /robots.txt ({fetches} requests)"
-- ---
SELECT 'ip' AS actor_kind, ip AS actor_key,
       min(epoch_s) AS window_start, min(epoch_s) AS window_end, 0.6 AS score,
       count(*) AS fetches
FROM events
WHERE ip IS NOT NULL AND (path = '/robots.txt' OR path LIKE '/robots.txt?%')
GROUP BY ip
