-- ---
-- id: partner_proxy_accounts
-- title: Accounts reaching on the web what the API refused their partner app
-- severity: critical
-- tos_clause: "5.3 Partners may not obtain through other means what the API denies them"
-- description: >
--   A partner app is refused an object on the API (403 or 404) and, within the horizon, accounts
--   sending from the same networks (/24 or /64) as the app fetch the same object on the web.
--   Both the app and the accounts are reported, in one link group.
-- monotone: true
-- parameters:
--   window_minutes: {type: int, default: 10, min: 1, max: 1440}
--   horizon_hours: {type: int, default: 24, min: 1, max: 168}
--   min_objects: {type: int, default: 3, min: 1}
-- explanation: >
--   {objects} objects refused to partner app {client} on the API were then fetched on the web by
--   this account from the app's networks
-- ---
WITH refused AS (
    SELECT actor_client AS client, object_id, min(epoch_s) AS refused_at
    FROM events
    WHERE actor_client IS NOT NULL AND status IN (403, 404) AND object_id IS NOT NULL
    GROUP BY actor_client, object_id
),
app_nets AS (
    SELECT DISTINCT actor_client AS client, net FROM events
    WHERE actor_client IS NOT NULL AND net IS NOT NULL
),
reached AS (
    SELECT r.client, e.actor_account AS account, e.object_id,
           floor(e.epoch_s / ({{horizon_hours}} * 3600)) AS horizon,
           min(floor(e.epoch_s / ({{window_minutes}} * 60))) AS w
    FROM events e
    JOIN app_nets a ON a.net = e.net
    JOIN refused r ON r.client = a.client AND r.object_id = e.object_id
    WHERE e.actor_account IS NOT NULL AND e.actor_client IS NULL AND e.status = 200
      AND e.epoch_s >= r.refused_at
      AND e.epoch_s < r.refused_at + {{horizon_hours}} * 3600
    GROUP BY r.client, e.actor_account, e.object_id, floor(e.epoch_s / ({{horizon_hours}} * 3600))
),
running AS (
    SELECT client, account, horizon, w,
           sum(count(*)) OVER (PARTITION BY client, account, horizon ORDER BY w
                               ROWS UNBOUNDED PRECEDING) AS objects
    FROM reached GROUP BY client, account, horizon, w
),
fired AS (
    SELECT * FROM running WHERE objects >= {{min_objects}}
)
SELECT 'account' AS actor_kind, account AS actor_key,
       horizon * {{horizon_hours}} * 3600 AS window_start,
       (w + 1) * {{window_minutes}} * 60 AS window_end,
       LEAST(1.0, 0.7 + 0.3 * objects / (5.0 * {{min_objects}})) AS score,
       'partner:' || client AS link_group, client, objects
FROM fired
UNION ALL
SELECT 'client', client, min(horizon) * {{horizon_hours}} * 3600,
       min((w + 1) * {{window_minutes}} * 60),
       LEAST(1.0, 0.7 + 0.3 * max(objects) / (5.0 * {{min_objects}})),
       'partner:' || client, client, max(objects)
FROM fired GROUP BY client, horizon, w
