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
recent_changes AS (
    -- values in words: names for the JSON lists, a count for related links
    SELECT
        article_id, changed_at, version, field,
        CASE
            WHEN field IN ('authors', 'tags') AND json_valid(old_value)
                THEN (SELECT group_concat(value, ', ') FROM json_each(old_value))
            WHEN field = 'related' AND json_valid(old_value)
                THEN json_array_length(old_value) || iif(json_array_length(old_value) = 1, ' link', ' links')
            ELSE old_value
        END AS old_text,
        CASE
            WHEN field IN ('authors', 'tags') AND json_valid(new_value)
                THEN (SELECT group_concat(value, ', ') FROM json_each(new_value))
            WHEN field = 'related' AND json_valid(new_value)
                THEN json_array_length(new_value) || iif(json_array_length(new_value) = 1, ' link', ' links')
            ELSE new_value
        END AS new_text
    FROM (SELECT * FROM article_changes ORDER BY changed_at DESC, id LIMIT 5000)
),
corrections AS (
    SELECT
        article_id,
        changed_at,
        group_concat(field, ', ') AS changed,
        version,
        NULL AS version_id,
        -- old and new values as the lines of a diff
        group_concat('-' || field || ': ' || coalesce(old_text, '') || char(10)
                     || '+' || field || ': ' || coalesce(new_text, ''), char(10)) AS diff
    FROM recent_changes
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
LIMIT 100
