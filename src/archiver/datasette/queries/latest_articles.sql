-- The newest articles: by publication time, else by when the archive first saw them.
SELECT
    id AS article_id,
    title,
    site,
    section,
    authors,
    coalesce(published_at, first_seen_at) AS published_or_seen_at,
    word_count,
    versions,
    url
FROM articles
WHERE (:site = '' OR site = :site)
ORDER BY coalesce(published_utc, first_seen_at) DESC, id DESC
LIMIT 200
