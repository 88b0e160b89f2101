-- Requests per (UTC) day and status class (2xx, 3xx, 4xx, 5xx), with the day's error rate:
-- the share of that day's requests answered 5xx.
with per_class as (
    select
        cast(request_ts as date) as day,
        cast(status / 100 as varchar(8)) || 'xx' as status_class,
        count(*) as requests
    from {{ source('raw_data', 'access_log') }}
    group by 1, 2
)
select
    day,
    status_class,
    requests,
    -- A sum of counts is numeric in Postgres: cast, so the column is bigint in both warehouses.
    cast(sum(requests) over (partition by day) as bigint) as day_requests,
    cast(sum(case when status_class = '5xx' then requests else 0 end) over (partition by day) as decimal(18, 6))
        / sum(requests) over (partition by day) as day_error_rate
from per_class
