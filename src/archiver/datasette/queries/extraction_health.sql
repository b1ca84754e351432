-- How well extraction works, per site: the share of pages that gave no body text (extraction
-- failed, or the body came out empty), of articles with no publication date, with no author.
-- Failed extractions are matched to a site by host (the site of an archived article of that
-- host); a host with no archived article is its own row. Per-site article figures come from
-- site_stats, which the archive keeps as articles are written (archiver.store.counts), so this
-- reads a row per site instead of every article.
WITH failed_hosts AS (
    SELECT
        host,  -- host[:port], stored with each fetch
        count(DISTINCT url) AS failed_urls
    FROM fetches
    WHERE outcome = 'failed' AND error_kind = 'extract'
      AND NOT EXISTS (SELECT 1 FROM fetches later
                      WHERE later.url = fetches.url AND later.article_id IS NOT NULL)
    GROUP BY host
),
failed_by_site AS (
    SELECT
        coalesce(
            (SELECT a.site FROM articles a
             WHERE a.url >= 'https://' || f.host || '/' AND a.url < 'https://' || f.host || '0' LIMIT 1),
            (SELECT a.site FROM articles a
             WHERE a.url >= 'http://' || f.host || '/' AND a.url < 'http://' || f.host || '0' LIMIT 1),
            f.host
        ) AS site,
        sum(f.failed_urls) AS extract_failures
    FROM failed_hosts f
    GROUP BY 1
),
per_site AS (
    SELECT
        site,
        articles,
        empty_bodies,
        missing_dates,
        missing_authors,
        round(1.0 * words / articles) AS average_words
    FROM site_stats
    WHERE articles > 0
),
discovery_by_site AS (
    SELECT site, sum(links_articles) AS links_articles, sum(links_rejected) AS links_rejected
    FROM host_discovery
    GROUP BY site
),
sites AS (
    SELECT site FROM per_site UNION SELECT site FROM failed_by_site UNION SELECT site FROM discovery_by_site
)
SELECT
    s.site,
    coalesce(p.articles, 0) AS articles,
    coalesce(f.extract_failures, 0) AS extract_failures,
    round(100.0 * (coalesce(p.empty_bodies, 0) + coalesce(f.extract_failures, 0))
          / (coalesce(p.articles, 0) + coalesce(f.extract_failures, 0)), 1) AS no_body_pct,
    round(100.0 * p.missing_dates / p.articles, 1) AS missing_date_pct,
    round(100.0 * p.missing_authors / p.articles, 1) AS missing_author_pct,
    p.average_words,
    coalesce(d.links_articles, 0) AS section_links_articles,
    coalesce(d.links_rejected, 0) AS section_links_rejected,
    round(100.0 * d.links_articles / nullif(d.links_articles + d.links_rejected, 0), 1) AS section_links_article_pct
FROM sites s
LEFT JOIN per_site p ON p.site = s.site
LEFT JOIN failed_by_site f ON f.site = s.site
LEFT JOIN discovery_by_site d ON d.site = s.site
WHERE (:site = '' OR s.site = :site)
ORDER BY articles DESC, s.site
