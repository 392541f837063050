-- ---
-- id: story_harvest
-- title: Stories collected as soon as they appear, across many owners
-- severity: high
-- tos_clause: "4.4 No copying of stories beyond their 24-hour life"
-- description: >
--   Stories of many owners fetched fresh: within fresh_minutes of being posted when the stories
--   table says when, otherwise within fresh_minutes of the story's first fetch by anyone (the
--   first fetch approximates the posting time for a harvester that polls; a pool of sock puppets
--   fetches within minutes of each other). People look at the stories of a few friends,
--   whenever they open the app.
-- uses: [stories]
-- parameters:
--   window_minutes: {type: int, default: 10, min: 1, max: 1440}
--   horizon_hours: {type: int, default: 24, min: 1, max: 168}
--   fresh_minutes: {type: float, default: 20.0, min: 0}
--   min_owners: {type: int, default: 12, min: 1}
--   min_fresh_share: {type: float, default: 0.9, min: 0, max: 1}
-- explanation: >
--   {fresh_stories} of {stories} stories fetched fresh, from {owners} owners
-- ---
WITH fetches AS (
    SELECT e.actor_kind, e.actor_key, e.object_id, e.epoch_s, e.owner_ids[1] AS owner,
           floor(e.epoch_s / ({{horizon_hours}} * 3600)) AS horizon,
           floor(e.epoch_s / ({{window_minutes}} * 60)) AS w
    FROM events e
    WHERE e.route = '/stories/{story_id:int}' AND e.status = 200 AND e.object_id IS NOT NULL
),
firsts AS (
    SELECT object_id, min(epoch_s) AS first_fetch FROM fetches GROUP BY object_id
),
firsts_per_actor AS (
    SELECT f.actor_kind, f.actor_key, f.horizon, f.object_id, min(f.w) AS w,
           max(f.owner) AS owner,
           max(CASE WHEN s.posted_at IS NOT NULL
                    THEN CASE WHEN f.epoch_s - s.posted_at <= {{fresh_minutes}} * 60 THEN 1 ELSE 0 END
                    WHEN f.epoch_s - x.first_fetch <= {{fresh_minutes}} * 60 THEN 1
                    ELSE 0 END) AS fresh
    FROM fetches f
    JOIN firsts x ON x.object_id = f.object_id
    LEFT JOIN stories s ON s.story_id = f.object_id
    GROUP BY f.actor_kind, f.actor_key, f.horizon, f.object_id
),
owner_firsts AS (
    SELECT actor_kind, actor_key, horizon, owner, min(w) AS w
    FROM firsts_per_actor GROUP BY actor_kind, actor_key, horizon, owner
),
activity AS (
    SELECT actor_kind, actor_key, horizon, w, count(*) AS stories, sum(fresh) AS fresh_stories,
           0 AS owners
    FROM firsts_per_actor GROUP BY actor_kind, actor_key, horizon, w
    UNION ALL
    SELECT actor_kind, actor_key, horizon, w, 0, 0, count(*)
    FROM owner_firsts GROUP BY actor_kind, actor_key, horizon, w
),
running AS (
    SELECT actor_kind, actor_key, horizon, w,
           sum(sum(stories)) OVER acc AS stories,
           sum(sum(fresh_stories)) OVER acc AS fresh_stories,
           sum(sum(owners)) OVER acc AS owners
    FROM activity
    GROUP BY actor_kind, actor_key, horizon, w
    WINDOW acc AS (PARTITION BY actor_kind, actor_key, horizon ORDER BY w
                   ROWS UNBOUNDED PRECEDING)
)
SELECT actor_kind, actor_key,
       horizon * {{horizon_hours}} * 3600 AS window_start,
       (w + 1) * {{window_minutes}} * 60 AS window_end,
       LEAST(1.0, 0.5 + 0.5 * fresh_stories / stories * owners / (3.0 * {{min_owners}})) AS score,
       stories, fresh_stories, owners
FROM running
WHERE owners >= {{min_owners}} AND fresh_stories >= {{min_fresh_share}} * stories
