-- ---
-- id: log_ua_rotation
-- title: One address, a new User-Agent every few requests
-- severity: high
-- tos_clause: "4.4 No disguising automated access"
-- description: >
--   Distinct User-Agents one address sent within window_seconds. A household or an office
--   behind one address has a few browsers; min_agents different ones inside a minute is a tool
--   rotating them to look like many visitors. Needs the User-Agent: silent when it is hidden.
-- parameters:
--   window_seconds: {type: int, default: 60, min: 1, max: 3600}
--   min_agents: {type: int, default: 10, min: 2}
-- explanation: >
--   {agents} different User-Agents in {requests} requests within {window_seconds} s
-- ---
WITH candidates AS (
    SELECT ip FROM events WHERE ip IS NOT NULL AND ua IS NOT NULL
    GROUP BY ip HAVING count(DISTINCT ua) >= {{min_agents}}
),
sent AS (
    SELECT e.ip, e.ua, e.epoch_s FROM events e JOIN candidates c ON c.ip = e.ip
    WHERE e.ua IS NOT NULL
),
windows AS (
    SELECT ip, ua, 0 AS shift, floor(epoch_s / {{window_seconds}}) AS w FROM sent
    UNION ALL
    SELECT ip, ua, 1 AS shift, floor(epoch_s / {{window_seconds}} + 0.5) AS w FROM sent
),
counted AS (
    SELECT ip, shift, w, count(DISTINCT ua) AS agents, count(*) AS requests
    FROM windows GROUP BY ip, shift, w HAVING count(DISTINCT ua) >= {{min_agents}}
)
SELECT 'ip' AS actor_kind, ip AS actor_key,
       (w - 0.5 * shift) * {{window_seconds}} AS window_start,
       (w - 0.5 * shift + 1) * {{window_seconds}} AS window_end,
       LEAST(1.0, 0.6 + 0.4 * (agents - {{min_agents}}) / (2.0 * {{min_agents}})) AS score,
       agents, requests, {{window_seconds}} AS window_seconds
FROM counted
