-- ---
-- id: log_id_guessing
-- title: Guessing identifiers of people or posts
-- severity: high
-- tos_clause: "4.2 No automated collection of other members' data"
-- description: >
--   Distinct objects of one kind (the route map's object parameter: author ids, usernames, post
--   ids) one address asked for within horizon_hours, when many of them did not exist (404 or
--   410). Following links only reaches objects that exist; enumerating ids reaches the gaps.
-- parameters:
--   horizon_hours: {type: int, default: 1, min: 1, max: 168}
--   min_objects: {type: int, default: 5, min: 2}
--   min_missing_share: {type: float, default: 0.3, min: 0, max: 1}
-- explanation: >
--   {objects} different {resource} ids asked for in {horizon_hours} h, {missing} of them do
--   not exist ({missing_share:.0%})
-- ---
WITH asked AS (
    SELECT ip, resource, object_id, floor(epoch_s / ({{horizon_hours}} * 3600)) AS h,
           min(epoch_s) AS first_t, max(CASE WHEN status IN (404, 410) THEN 1 ELSE 0 END) AS missing
    FROM events
    WHERE ip IS NOT NULL AND object_id IS NOT NULL
    GROUP BY ip, resource, object_id, floor(epoch_s / ({{horizon_hours}} * 3600))
),
counted AS (
    SELECT ip, resource, h, count(*) AS objects, sum(missing) AS missing,
           min(first_t) AS first_t, max(first_t) AS last_t
    FROM asked GROUP BY ip, resource, h
    HAVING count(*) >= {{min_objects}} AND sum(missing) >= {{min_missing_share}} * count(*)
)
SELECT 'ip' AS actor_kind, ip AS actor_key, first_t AS window_start, last_t AS window_end,
       LEAST(1.0, 0.6 + 0.4 * (objects - {{min_objects}}) / (10.0 * {{min_objects}})) AS score,
       resource, objects, missing, missing * 1.0 / objects AS missing_share,
       {{horizon_hours}} AS horizon_hours
FROM counted
