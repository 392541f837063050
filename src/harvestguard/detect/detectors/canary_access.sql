-- ---
-- id: canary_access
-- title: Read of a canary object
-- severity: critical
-- tos_clause: "4.2 No automated collection of other members' data"
-- description: >
--   Canaries are objects no person's browsing reaches (listed in the canaries table, which the
--   platform fills from the canaries it planted): any successful read of one is reported, at the
--   window it happened in.
-- needs: [canaries]
-- resets: window
-- monotone: true
-- parameters:
--   window_minutes: {type: int, default: 5, min: 1, max: 1440}
-- explanation: >
--   read {canaries} canary objects ({first_label})
-- ---
SELECT e.actor_kind, e.actor_key,
       floor(e.epoch_s / ({{window_minutes}} * 60)) * {{window_minutes}} * 60 AS window_start,
       (floor(e.epoch_s / ({{window_minutes}} * 60)) + 1) * {{window_minutes}} * 60 AS window_end,
       1.0 AS score,
       count(DISTINCT c.resource || ':' || c.object_id) AS canaries, min(c.label) AS first_label
FROM events e
JOIN canaries c ON c.object_id = e.object_id AND c.resource = e.resource
WHERE e.status < 400
GROUP BY e.actor_kind, e.actor_key, floor(e.epoch_s / ({{window_minutes}} * 60))
