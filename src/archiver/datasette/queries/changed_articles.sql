-- Every version after the first, newest change first, with its diff against the version before.
SELECT
    a.id AS article_id,
    a.title,
    a.site,
    a.first_seen_at,
    v.version,
    v.created_at AS changed_at,
    a.versions AS versions_now,
    v.id AS version_id,
    v.diff
FROM article_versions v
JOIN articles a ON a.id = v.article_id
WHERE v.version > 1 AND (:site = '' OR a.site = :site)
ORDER BY v.created_at DESC, a.id, v.version DESC
LIMIT 100
