"""The demo's and tests' data: generated sessions, users and logs, and the source database seeded from them. Not on the product code path: only cli.py, benchmarks/ and tests import it."""
