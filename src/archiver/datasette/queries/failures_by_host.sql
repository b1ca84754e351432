-- Failed fetches grouped by host and kind of error, the host with most failures first.
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
    max(started_at) AS last_failed_at,
    status AS last_status,
    error_message AS last_message
FROM failed
GROUP BY host, error_kind
ORDER BY sum(count(*)) OVER (PARTITION BY host) DESC, host, failures DESC
LIMIT 1000
