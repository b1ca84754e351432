-- Failed fetches grouped by host and kind of error, the host with most failures first.
WITH failed AS (
    SELECT
        url,
        started_at,
        status,
        error_kind,
        error_message,
        substr(url, instr(url, '://') + 3) AS rest
    FROM fetches
    WHERE outcome = 'failed'
),
hosts AS (
    SELECT
        *,
        lower(CASE WHEN instr(rest, '/') > 0 THEN substr(rest, 1, instr(rest, '/') - 1)
                   ELSE rest END) AS host
    FROM failed
)
SELECT
    host,
    error_kind,
    count(*) AS failures,
    count(DISTINCT url) AS urls,
    max(started_at) AS last_failed_at,
    status AS last_status,
    error_message AS last_message
FROM hosts
GROUP BY host, error_kind
ORDER BY sum(count(*)) OVER (PARTITION BY host) DESC, host, failures DESC
LIMIT 1000
