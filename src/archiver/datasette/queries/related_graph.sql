-- The related-link graph: one row per link from an archived article, with the archived
-- article it points to when that one is in the archive too.
SELECT
    a.id AS article_id,
    a.title,
    a.site,
    r.position,
    r.title AS link_title,
    r.url AS link_url,
    r.target_article_id,
    t.title AS target_title
FROM articles a
CROSS JOIN related_links r ON r.article_id = a.id  -- CROSS: read in article order, stop at the limit
LEFT JOIN articles t ON t.id = r.target_article_id
WHERE (:site = '' OR a.site = :site)
ORDER BY a.id, r.position
LIMIT 200
