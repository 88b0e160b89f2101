-- Requests per (UTC) day and status class (2xx, 3xx, 4xx, 5xx), with the day's error rate:
-- the share of that day's requests answered 5xx.
-- Until the first log day is loaded raw_data.access_log does not exist: the model is then empty.
{%- set requests = source('raw_data', 'access_log') %}
{%- set loaded = not execute or adapter.get_relation(database=requests.database, schema=requests.schema, identifier=requests.identifier) is not none %}
{%- if not loaded %}
select cast(null as date) as day, cast(null as varchar(8)) as status_class, cast(0 as bigint) as requests,
    cast(0 as bigint) as day_requests, cast(0 as decimal(18, 6)) as day_error_rate
where 1 = 0
{%- else %}
with per_class as (
    select
        cast(request_ts as date) as day,
        cast(status / 100 as varchar(8)) || 'xx' as status_class,
        count(*) as requests
    from {{ requests }}
    group by 1, 2
)
select
    day,
    status_class,
    requests,
    sum(requests) over (partition by day) as day_requests,
    cast(sum(case when status_class = '5xx' then requests else 0 end) over (partition by day) as decimal(18, 6))
        / sum(requests) over (partition by day) as day_error_rate
from per_class
{%- endif %}
