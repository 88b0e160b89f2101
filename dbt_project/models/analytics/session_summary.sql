-- One row per session: who, where from, when, and what it bought.
-- The channel dimension is only tested against (relationships), not joined; declaring the
-- dependency makes it load before this model is built and tested.
-- depends_on: {{ source('raw_data', 'channel') }}
select
    usc.sessionid,
    usc.userid,
    usc.channel,
    st.ts,
    cast(st.ts as date) as session_date,
    cast(date_trunc('month', st.ts) as date) as session_month,
    coalesce(tr.amount, 0) as amount,
    coalesce(tr.refunded, false) as refunded,
    (tr.sessionid is not null and tr.amount > 0) as is_paid
from {{ source('raw_data', 'user_session_channel') }} usc
join {{ source('raw_data', 'session_timestamp') }} st on st.sessionid = usc.sessionid
left join {{ source('raw_data', 'session_transaction') }} tr on tr.sessionid = usc.sessionid
