from collections import Counter
from datetime import date

from warehouse_platform.sample_data.session_generator import (
    CHANNELS,
    GeneratorConfig,
    generate_day,
)


def test_a_day_is_the_same_whenever_and_in_whatever_order_it_is_generated():
    a = generate_day(date(2026, 11, 2))
    generate_day(date(2026, 11, 1))
    b = generate_day(date(2026, 11, 2))
    assert a == b
    assert generate_day(date(2026, 11, 3)).sessionid != a.sessionid


def test_shape_of_a_day():
    day = generate_day(date(2026, 11, 2), GeneratorConfig(scale=0.5))
    n = len(day.sessionid)
    assert n == 1000  # a Monday at half scale
    assert len(set(day.sessionid)) == n and all(len(s) == 32 for s in day.sessionid)
    assert set(day.channel) == set(CHANNELS)
    assert all(t.date() == date(2026, 11, 2) for t in day.ts)
    assert 0.04 < len(day.txn_sessionid) / n < 0.12
    assert set(day.txn_sessionid) <= set(day.sessionid)
    assert any(day.txn_refunded) and not all(day.txn_refunded)


def test_skewed_data_concentrates_sessions_on_few_users():
    uniformish = Counter(generate_day(date(2026, 11, 2)).userid)
    skewed = Counter(generate_day(date(2026, 11, 2), GeneratorConfig(skewed=True)).userid)
    top = lambda c: sum(n for _, n in c.most_common(5)) / sum(c.values())  # noqa: E731
    assert top(skewed) > 0.5 > 0.15 > top(uniformish)
