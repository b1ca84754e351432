-- Failed fetches grouped by host and kind of error, the host with most failures first, with the
-- last URL that failed and its archived article when it has one (a page gone from the live site
-- is still in the archive).
WITH failed AS (
    SELECT
        url,
        started_at,
        status,
        error_kind,
        error_message,
        url_host(url) AS host  -- archiver's SQL function: host[:port]
    FROM fetches
    WHERE outcome = 'failed'
)
SELECT
    host,
    error_kind,
    count(*) AS failures,
    count(DISTINCT url) AS urls,
    max(started_at) AS last_failed_at,  -- the bare max() makes the other columns its row's
    status AS last_status,
    error_message AS last_message,
    url AS last_url,
    (SELECT f.article_id FROM fetches f
     WHERE f.url = failed.url AND f.article_id IS NOT NULL
     ORDER BY f.id DESC LIMIT 1) AS last_article_id
FROM failed
GROUP BY host, error_kind
ORDER BY sum(count(*)) OVER (PARTITION BY host) DESC, host, failures DESC
LIMIT 1000
