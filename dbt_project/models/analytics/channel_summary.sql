-- Per channel and month: reach, buyers, conversion and revenue (gross, and net of refunds).
select
    channel,
    session_month as month,
    count(distinct userid) as unique_users,
    count(distinct case when is_paid then userid end) as paid_users,
    round(
        cast(count(distinct case when is_paid then userid end) as decimal(18, 4))
        / nullif(count(distinct userid), 0),
        4
    ) as conversion_rate,
    sum(amount) as gross_revenue,
    sum(case when refunded then 0 else amount end) as net_revenue
from {{ ref('session_summary') }}
group by channel, session_month
