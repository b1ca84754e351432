-- Every change to an article after it was first archived, newest first: new versions of its
-- text (title or body, with the diff against the version before) and corrections of its other
-- fields (authors, dates, related links ...: the field, old and new value, from article_changes).
WITH versions AS (
    SELECT
        v.article_id,
        v.created_at AS changed_at,
        CASE
            WHEN p.title IS NOT v.title AND p.body IS NOT v.body THEN 'title, body'
            WHEN p.title IS NOT v.title THEN 'title'
            ELSE 'body'
        END AS changed,
        v.version,
        v.id AS version_id,
        v.diff
    FROM article_versions v
    LEFT JOIN article_versions p ON p.article_id = v.article_id AND p.version = v.version - 1
    WHERE v.version > 1
    ORDER BY v.created_at DESC
    LIMIT 500
),
corrections AS (
    SELECT
        article_id,
        changed_at,
        group_concat(field, ', ') AS changed,
        version,
        NULL AS version_id,
        -- old and new values as the lines of a diff
        group_concat('-' || field || ': ' || coalesce(old_value, '') || char(10)
                     || '+' || field || ': ' || coalesce(new_value, ''), char(10)) AS diff
    FROM (SELECT * FROM article_changes ORDER BY changed_at DESC, id LIMIT 5000)
    GROUP BY article_id, changed_at, version
)
SELECT
    c.article_id,
    a.title,
    a.site,
    c.changed_at,
    c.changed,
    c.version,
    c.version_id,
    a.versions AS versions_now,
    c.diff
FROM (SELECT * FROM versions UNION ALL SELECT * FROM corrections) c
JOIN articles a ON a.id = c.article_id
WHERE (:site = '' OR a.site = :site)
ORDER BY c.changed_at DESC, c.article_id, c.version_id IS NULL
LIMIT 500
