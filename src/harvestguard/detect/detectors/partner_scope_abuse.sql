-- ---
-- id: partner_scope_abuse
-- title: Partner app probing beyond its scopes and purpose
-- severity: high
-- tos_clause: "5.2 Partners use only the scopes granted, for the declared purpose"
-- description: >
--   A partner app's API requests that the API refused for lack of a scope (403), for owners who
--   did not authorise it or endpoints that do not exist (404), or for scopes it was not granted
--   (400), and out-of-purpose reads: user search and bulk look-ups, and, with the partner_apps
--   table, resources outside its scopes. Accumulated since the start of the horizon.
-- uses: [partner_apps]
-- resets: horizon
-- parameters:
--   window_minutes: {type: int, default: 10, min: 1, max: 1440}
--   horizon_hours: {type: int, default: 24, min: 1, max: 168}
--   min_refusals: {type: int, default: 20, min: 1}
--   min_refusal_share: {type: float, default: 0.1, min: 0, max: 1}
--   min_out_of_purpose: {type: int, default: 50, min: 1}
-- explanation: >
--   {refusals} of {requests} API requests refused ({refusal_share:.0%}: {forbidden} for a missing
--   scope, {not_found} not found, {bad_scope} for scopes not granted), {out_of_purpose}
--   out-of-purpose reads
-- ---
WITH calls AS (
    SELECT e.actor_client AS client, e.epoch_s, e.status, e.route, e.resource,
           floor(e.epoch_s / ({{horizon_hours}} * 3600)) AS horizon,
           floor(e.epoch_s / ({{window_minutes}} * 60)) AS w,
           CASE WHEN e.route IN ('/api/v1/users/search', '/api/v1/users/lookup') THEN 1
                WHEN p.client IS NOT NULL AND e.resource = 'location'
                     AND NOT list_contains(p.scopes, 'location:read') THEN 1
                ELSE 0 END AS out_of_purpose
    FROM events e
    LEFT JOIN partner_apps p ON p.client = e.actor_client
    WHERE e.channel = 'api' AND e.actor_client IS NOT NULL AND e.route <> '/oauth/token'
),
per_window AS (
    SELECT client, horizon, w, count(*) AS requests,
           sum(CASE WHEN status = 403 THEN 1 ELSE 0 END) AS forbidden,
           sum(CASE WHEN status = 404 THEN 1 ELSE 0 END) AS not_found,
           sum(CASE WHEN status = 400 THEN 1 ELSE 0 END) AS bad_scope,
           sum(out_of_purpose) AS out_of_purpose
    FROM calls GROUP BY client, horizon, w
),
running AS (
    SELECT client, horizon, w,
           sum(requests) OVER acc AS requests, sum(forbidden) OVER acc AS forbidden,
           sum(not_found) OVER acc AS not_found, sum(bad_scope) OVER acc AS bad_scope,
           sum(out_of_purpose) OVER acc AS out_of_purpose
    FROM per_window
    WINDOW acc AS (PARTITION BY client, horizon ORDER BY w ROWS UNBOUNDED PRECEDING)
)
SELECT 'client' AS actor_kind, client AS actor_key,
       horizon * {{horizon_hours}} * 3600 AS window_start,
       (w + 1) * {{window_minutes}} * 60 AS window_end,
       LEAST(1.0, 0.6 + (forbidden + not_found + bad_scope) * 0.4 / (5.0 * {{min_refusals}})
                      + out_of_purpose * 0.4 / (5.0 * {{min_out_of_purpose}})) AS score,
       requests, forbidden + not_found + bad_scope AS refusals,
       (forbidden + not_found + bad_scope) * 1.0 / requests AS refusal_share,
       forbidden, not_found, bad_scope, out_of_purpose
FROM running
WHERE (forbidden + not_found + bad_scope >= {{min_refusals}}
       AND forbidden + not_found + bad_scope >= {{min_refusal_share}} * requests)
   OR out_of_purpose >= {{min_out_of_purpose}}
