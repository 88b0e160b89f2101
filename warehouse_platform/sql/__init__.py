"""SQL text for both dialects (DDL, load, partition swap, parity, quality, export, extract) from one TableSpec, and quoting. Pure; imports only contract/; imported by the packages that run SQL."""
