-- ---
-- id: log_pages_without_assets
-- title: Many pages, none of their images, styles or scripts
-- severity: medium
-- tos_clause: "4.2 No automated collection of other members' data"
-- description: >
--   Over a day, an address that requested at least min_pages pages and at most max_asset_share
--   of its requests were assets. A browser fetches a page's images, styles and scripts (or at
--   least asks whether they changed); a program that wants the text fetches the pages only.
--   Medium severity: a reader behind an aggressive cache can look like this, so it needs a
--   second signal to flag.
-- parameters:
--   horizon_hours: {type: int, default: 24, min: 1, max: 168}
--   min_pages: {type: int, default: 20, min: 1}
--   max_asset_share: {type: float, default: 0.05, min: 0, max: 1}
-- explanation: >
--   {pages} pages and {assets} assets ({asset_share:.0%}) in {horizon_hours} hours
-- ---
WITH counted AS (
    SELECT ip, floor(epoch_s / ({{horizon_hours}} * 3600)) AS h,
           sum(CASE WHEN route = '(static)' THEN 0 ELSE 1 END) AS pages,
           sum(CASE WHEN route = '(static)' THEN 1 ELSE 0 END) AS assets,
           max(epoch_s) AS last_t
    FROM events WHERE ip IS NOT NULL
    GROUP BY ip, floor(epoch_s / ({{horizon_hours}} * 3600))
)
SELECT 'ip' AS actor_kind, ip AS actor_key,
       h * {{horizon_hours}} * 3600 AS window_start, last_t AS window_end,
       LEAST(1.0, 0.6 + 0.4 * (pages - {{min_pages}}) / (10.0 * {{min_pages}})) AS score,
       pages, assets, assets * 1.0 / (pages + assets) AS asset_share,
       {{horizon_hours}} AS horizon_hours
FROM counted
WHERE pages >= {{min_pages}} AND assets <= {{max_asset_share}} * (pages + assets)
