-- ---
-- id: log_declared_tool
-- title: Declares itself a scanning or harvesting tool
-- severity: high
-- tos_clause: "4.3 No excessive or automated requests"
-- description: >
--   The User-Agent names a vulnerability scanner, a mass scanner or a URL brute-forcer (Nikto,
--   zgrab, sqlmap, masscan, Nmap, Nuclei, WPScan, gobuster, ffuf...). This is the one verdict a
--   User-Agent alone may give, because it is the client's own admission: a User-Agent is never
--   needed to find a bot, and never enough to clear one (verified crawlers are recognised by
--   address). Silent when the User-Agent is hidden.
-- explanation: "{requests} requests declaring {tool}"
-- ---
WITH agents AS (
    -- the pattern runs once per distinct User-Agent, not once per request: it reads min(ua),
    -- an aggregate, so the filter on its result stays above the grouping (a filter on ua
    -- alone would be pushed below it, back onto every row)
    SELECT ua, regexp_extract(lower(min(ua)), '(nikto|zgrab|sqlmap|masscan|nmap scripting engine|nmap|nuclei|wpscan|gobuster|dirbuster|dirb|ffuf|feroxbuster|wfuzz|acunetix|netsparker|openvas|w3af|whatweb|zmeu|morfeus|jorgee|fuzz faster u fool|nessus|arachni|skipfish|havij|commix)', 1) AS tool
    FROM events WHERE ua IS NOT NULL
    GROUP BY ua
),
tools AS (
    SELECT e.ip, e.epoch_s, a.tool
    FROM events e JOIN agents a ON a.ua = e.ua
    WHERE e.ip IS NOT NULL AND a.tool <> ''
)
SELECT 'ip' AS actor_kind, ip AS actor_key,
       min(epoch_s) AS window_start, min(epoch_s) AS window_end, 0.8 AS score,
       min(tool) AS tool, count(*) AS requests
FROM tools
GROUP BY ip
