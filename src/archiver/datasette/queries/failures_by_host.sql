-- Failed fetches grouped by host and kind of error, the host with most failures first, with the
-- last URL that failed and its archived article when it has one (a page gone from the live site
-- is still in the archive). fetches.host is stored with each fetch (archive_0010_fetch_hosts):
-- the groups are read from its index of failed fetches, then one row per group for the latest.
WITH groups AS (
    SELECT
        host,
        error_kind,
        count(*) AS failures,
        count(DISTINCT url) AS urls,
        max(started_at) AS last_failed_at
    FROM fetches INDEXED BY idx_fetches_failed_host  -- the failed fetches alone, in group order
    WHERE outcome = 'failed'
    GROUP BY host, error_kind
),
latest AS (
    SELECT
        g.*,
        (SELECT f.id FROM fetches f
         WHERE f.outcome = 'failed' AND f.host IS g.host AND f.error_kind IS g.error_kind
         ORDER BY f.started_at DESC LIMIT 1) AS last_id
    FROM groups g
)
SELECT
    l.host,
    l.error_kind,
    l.failures,
    l.urls,
    l.last_failed_at,
    f.status AS last_status,
    f.error_message AS last_message,
    f.url AS last_url,
    (SELECT a.article_id FROM fetches a
     WHERE a.url = f.url AND a.article_id IS NOT NULL
     ORDER BY a.id DESC LIMIT 1) AS last_article_id
FROM latest l
JOIN fetches f ON f.id = l.last_id
ORDER BY sum(l.failures) OVER (PARTITION BY l.host) DESC, l.host, l.failures DESC
LIMIT 1000
