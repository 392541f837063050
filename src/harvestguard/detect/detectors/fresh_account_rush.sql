-- ---
-- id: fresh_account_rush
-- title: New account viewing many strangers within minutes of sign-up
-- severity: high
-- tos_clause: "3.1 Accounts are for people, not for automated collection"
-- description: >
--   An account created less than rush_minutes before it views many strangers' profiles and posts.
--   The creation time comes from the accounts table when given; otherwise it is inferred from the
--   events: a sign-up (POST /signup) from the same address shortly before the account's first
--   request.
-- uses: [accounts]
-- parameters:
--   window_minutes: {type: int, default: 5, min: 1, max: 1440}
--   rush_minutes: {type: int, default: 120, min: 1}
--   signup_match_minutes: {type: int, default: 15, min: 1}
--   min_strangers: {type: int, default: 40, min: 1}
-- explanation: >
--   {strangers} strangers viewed within {minutes_since_signup:.0f} minutes of sign-up
-- ---
WITH first_seen AS (
    SELECT actor_account AS account, min(epoch_s) AS first_t
    FROM events WHERE actor_account IS NOT NULL GROUP BY actor_account
),
first_ip AS (
    SELECT e.actor_account AS account, e.ip
    FROM events e JOIN first_seen f ON f.account = e.actor_account AND e.epoch_s = f.first_t
    WHERE e.ip IS NOT NULL
),
signups AS (
    SELECT ip, epoch_s FROM events
    WHERE route = '/signup' AND method = 'POST' AND status < 400 AND ip IS NOT NULL
),
inferred AS (
    SELECT f.account, max(s.epoch_s) AS created_at
    FROM first_seen f
    JOIN first_ip i ON i.account = f.account
    JOIN signups s ON s.ip = i.ip AND s.epoch_s <= f.first_t
                  AND s.epoch_s >= f.first_t - {{signup_match_minutes}} * 60
    GROUP BY f.account
),
created AS (
    SELECT f.account, COALESCE(a.created_at, i.created_at) AS created_at
    FROM first_seen f
    LEFT JOIN accounts a ON a.account = f.account
    LEFT JOIN inferred i ON i.account = f.account
),
rush AS (
    SELECT v.actor_key, v.owner, c.created_at,
           min(floor(v.epoch_s / ({{window_minutes}} * 60))) AS w
    FROM event_owners v
    JOIN created c ON c.account = v.actor_key
    WHERE v.actor_kind = 'account' AND c.created_at IS NOT NULL
      AND v.epoch_s >= c.created_at AND v.epoch_s < c.created_at + {{rush_minutes}} * 60
      AND v.audience IN ('authenticated', 'anonymous') AND v.status = 200 AND v.owners_shown = 1
      AND v.resource IN ('profile', 'post', 'story', 'media')
    GROUP BY v.actor_key, v.owner, c.created_at
),
running AS (
    SELECT actor_key, created_at, w,
           sum(count(*)) OVER (PARTITION BY actor_key ORDER BY w ROWS UNBOUNDED PRECEDING)
               AS strangers
    FROM rush GROUP BY actor_key, created_at, w
)
SELECT 'account' AS actor_kind, actor_key,
       created_at AS window_start,
       (w + 1) * {{window_minutes}} * 60 AS window_end,
       LEAST(1.0, 0.6 + 0.4 * strangers / (4.0 * {{min_strangers}})) AS score,
       strangers, ((w + 1) * {{window_minutes}} * 60 - created_at) / 60.0 AS minutes_since_signup
FROM running
WHERE strangers >= {{min_strangers}}
