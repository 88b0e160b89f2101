-- Monthly active users: distinct users with at least one session in the month.
select
    session_month as month,
    count(distinct userid) as active_users
from {{ ref('session_summary') }}
group by session_month
