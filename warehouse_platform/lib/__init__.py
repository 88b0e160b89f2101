"""Pure building blocks with no Dagster in them: SQL builders, file splitting, the data generator.

Everything here is a plain function or dataclass so it can be tested directly, and so the
Redshift SQL and the Postgres SQL come out of the same code.
"""
