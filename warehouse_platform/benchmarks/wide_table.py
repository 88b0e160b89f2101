"""The wide, typed benchmark table: what an application's orders table looks like (20 columns:
keys, money, floats, flags, dates, times with and without a zone, a UUID, text of several widths
with Korean in it, a JSON document, a column that is nearly always NULL), beside the narrow
sessions table. The text path's costs (casts, widths, quoting, gzip) grow with width, so the
whole day is measured on both.

The platform reads it through the same contract as any table: a catalog entry (ENTRY) read by
catalog.load_catalog, the RawTableCatalog component's own entry model. The source rows are
generated in the database, deterministically (arithmetic on the row number, no random()), so two
runs, and every contender of one run, read the same bytes.
"""

from __future__ import annotations

from pathlib import Path

NAME = "wide_orders"
SOURCE_TABLE = "app.wide_orders"

# Widths are bytes (the catalog's rule: a Korean character takes 3), sized for the widest value
# the generator writes, as `catalog scaffold` would from the source.
ENTRY = """\
type: warehouse_platform.components.raw_table_catalog.RawTableCatalog
attributes:
  tables:
    - name: wide_orders
      description: Orders, one row per order, by the day it was created (benchmark, wide and typed).
      source: {table: app.wide_orders}
      partitioning: {daily_by: created_at}
      columns:
        - {name: order_id, type: bigint, nullable: false, description: Order id.}
        - {name: customer_id, type: int, nullable: false, description: Customer.}
        - {name: quantity, type: int, description: Items ordered.}
        - {name: amount, type: "numeric(12,2)", description: Order total.}
        - {name: discount_rate, type: double precision, description: Share discounted.}
        - {name: is_gift, type: boolean, description: Sent as a gift.}
        - {name: ship_date, type: date, description: Day it ships.}
        - {name: created_at, type: timestamp, nullable: false, description: When it was created (local time).}
        - {name: paid_at, type: timestamptz, description: When it was paid.}
        - {name: order_uuid, type: uuid, nullable: false, description: Public order reference.}
        - {name: country_code, type: varchar(2), description: ISO country.}
        - {name: currency, type: varchar(3), description: ISO currency.}
        - {name: status, type: varchar(16), description: Order status.}
        - {name: customer_name, type: varchar(64), description: Name on the order (often Korean).}
        - {name: email, type: varchar(128), description: Contact address.}
        - {name: shipping_address, type: varchar(256), description: Where it goes (often Korean).}
        - {name: user_agent, type: varchar(512), description: Browser that placed it.}
        - {name: note, type: varchar(1024), description: Free text from the customer.}
        - {name: attributes, type: super, description: The order's JSON document.}
        - {name: coupon_code, type: varchar(32), description: Coupon used; NULL for most orders.}
      primary_key: [order_id]
      mode: replace
      distribution: {style: KEY, key: customer_id, sort_key: [created_at]}
"""

# The source table as an application would declare it (character widths, jsonb, uuid).
SOURCE_DDL = """
CREATE SCHEMA IF NOT EXISTS app;
DROP TABLE IF EXISTS app.wide_orders;
CREATE TABLE app.wide_orders (
    order_id bigint PRIMARY KEY, customer_id int NOT NULL, quantity int, amount numeric(12,2),
    discount_rate double precision, is_gift boolean, ship_date date, created_at timestamp NOT NULL,
    paid_at timestamptz, order_uuid uuid NOT NULL, country_code varchar(2), currency varchar(3),
    status varchar(16), customer_name varchar(20), email varchar(128), shipping_address varchar(80),
    user_agent varchar(512), note text, attributes jsonb, coupon_code varchar(32)
)
"""

# %(rows)s rows on %(day)s. Every value is arithmetic on i (a multiplicative hash where it should
# look random), so the rows are the same on every run and every server.
FILL_SQL = """
INSERT INTO app.wide_orders
SELECT
    1000000000 + i,
    1 + (i::bigint * 7919) %% greatest(1, %(rows)s / 4),
    1 + i %% 9,
    ((i::bigint * 104729) %% 5000000) / 100.0,
    ((i::bigint * 31) %% 1000) / 1000.0,
    i %% 7 = 0,
    date %(day)s + (i %% 5),
    timestamp %(day)s + ((i::bigint * 86399::bigint / greatest(1, %(rows)s)) * interval '1 second'),
    CASE WHEN i %% 10 = 0 THEN NULL
         -- A local time in Seoul, whatever the server's time zone: the same instant on every server.
         ELSE (timestamp %(day)s + ((i::bigint * 86399::bigint / greatest(1, %(rows)s)) * interval '1 second')
               + interval '9 minutes') AT TIME ZONE 'Asia/Seoul' END,
    md5('wide:' || i)::uuid,
    (ARRAY['KR', 'US', 'JP', 'DE', 'FR', 'BR'])[1 + i %% 6],
    (ARRAY['KRW', 'USD', 'JPY', 'EUR', 'EUR', 'BRL'])[1 + i %% 6],
    (ARRAY['paid', 'shipped', 'delivered', 'refunded', 'cancelled'])[1 + ((i::bigint * 13) %% 5)::int],
    CASE WHEN i %% 3 = 0 THEN (ARRAY['김민준', '이서연', '박지호', '최수아', '정도윤'])[1 + i %% 5] || ' ' || i %% 1000
         ELSE 'Customer ' || (i::bigint * 7919) %% 100000 END,
    'customer' || (i::bigint * 7919) %% 100000 || '@example.com',
    CASE WHEN i %% 3 = 0 THEN '서울특별시 강남구 테헤란로 ' || (i %% 500) || '길 ' || (i %% 97) || ', "' || (i %% 30) || '동"'
         ELSE (i %% 9999) || ' Market Street, Apt ' || (i %% 300) || ', San Francisco, CA' END,
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/' || (100 + i %% 30)
        || '.0.' || (i %% 5000) || '.0 Safari/537.36',
    CASE WHEN i %% 4 = 0 THEN '문 앞에 놓아 주세요. Please leave it at the door, "thanks"; ring twice.' || repeat(' 감사합니다', i %% 8)
         WHEN i %% 4 = 1 THEN ''
         ELSE NULL END,
    jsonb_build_object(
        'sku', 'SKU-' || (i %% 5000), 'qty', 1 + i %% 9, 'tags', jsonb_build_array('promo', i %% 4, NULL),
        'gift_message', CASE WHEN i %% 7 = 0 THEN '생일 축하해요!' END, 'weight_kg', ((i::bigint * 17) %% 2000) / 100.0
    ),
    CASE WHEN i %% 20 = 0 THEN 'SAVE' || (i %% 50) END
FROM generate_series(0, %(rows)s - 1) i;
ANALYZE app.wide_orders
"""


def write_catalog(folder: Path) -> Path:
    """The entry as a catalog file of its own (catalog.load_catalog reads it)."""
    path = Path(folder) / "wide_catalog.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(ENTRY)
    return path


def fill_source(conn, rows: int, day: str) -> None:
    """(Re)creates app.wide_orders holding `rows` orders created on `day`."""
    with conn.cursor() as cur:
        cur.execute(SOURCE_DDL)
        cur.execute(FILL_SQL, {"rows": rows, "day": day})
    conn.commit()
