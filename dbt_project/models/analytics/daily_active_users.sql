-- Daily active users: distinct users with at least one application event that (UTC) day, per
-- country as raw_data.users holds it now. Events of users the users table does not know (a
-- user created after the last users load) count under country 'unknown', never dropped.
select
    cast(e.event_ts as date) as day,
    coalesce(u.country, 'unknown') as country,
    count(distinct e.userid) as active_users,
    count(*) as events
from {{ source('raw_data', 'app_events') }} e
left join {{ source('raw_data', 'users') }} u on u.userid = e.userid
where e.userid is not null
group by 1, 2
