-- First-touch and last-touch channel per user (ties on time broken by sessionid).
with ranked as (
    select
        userid,
        channel,
        ts,
        row_number() over (partition by userid order by ts asc, sessionid asc) as first_rank,
        row_number() over (partition by userid order by ts desc, sessionid desc) as last_rank,
        count(*) over (partition by userid) as sessions
    from {{ ref('session_summary') }}
)
select
    f.userid,
    f.channel as first_channel,
    l.channel as last_channel,
    f.ts as first_session_at,
    l.ts as last_session_at,
    f.sessions
from ranked f
join ranked l on l.userid = f.userid and l.last_rank = 1
where f.first_rank = 1
