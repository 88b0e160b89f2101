-- Daily active users: distinct users with at least one application event that (UTC) day, per
-- country as raw_data.users holds it now. Events of users the users table does not know (a
-- user created after the last users load) count under country 'unknown', never dropped.
-- Until the first log day is loaded raw_data.app_events does not exist: the model is then empty
-- (the source is still declared first, so the lineage stays).
{%- set events = source('raw_data', 'app_events') %}
{%- set loaded = not execute or adapter.get_relation(database=events.database, schema=events.schema, identifier=events.identifier) is not none %}
{%- if not loaded %}
select cast(null as date) as day, cast(null as varchar(8)) as country, cast(0 as bigint) as active_users, cast(0 as bigint) as events
where 1 = 0
{%- else %}
select
    cast(e.event_ts as date) as day,
    coalesce(u.country, 'unknown') as country,
    count(distinct e.userid) as active_users,
    count(*) as events
from {{ events }} e
left join {{ source('raw_data', 'users') }} u on u.userid = e.userid
where e.userid is not null
group by 1, 2
{%- endif %}
