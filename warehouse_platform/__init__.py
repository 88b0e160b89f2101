"""warehouse_platform: the Dagster code location that moves application data through the stage
into the warehouse and builds analytics on it. Its packages stand on floors, and imports only
run downwards (warehouse_platform_tests/test_layering.py holds the floors):

  benchmarks/, docs_screenshots.py   figures and pictures, at the top
  cli.py                             the `warehouse-platform` command
  definitions.py                     the code location (the defs folder + this environment's resources)
  environment.py, defs/              resources for this environment; what the code location serves
  catalog.py, components/            the table catalog (defs/raw_data/defs.yaml) and its Component
  automation/                        jobs, the daily schedule, the landing sensor
  quality/                           asset checks on raw tables
  extract/, transform/, export/      source -> stage assets; dbt models; exports back to the stage
  warehouse/                         raw tables: loader, IO manager, Postgres/Redshift resources
  stage/                             the stage (folder or S3): IO manager, batch writers, log structuring
  logs/, conventions/, instance/     log SQL; asset keys, partitions, labels; the Dagster instance
  sql/, staged_files/, sample_data/, settings.py   SQL builders; staged bytes; demo data; env settings
  contract/, postgres_endpoint.py    the table contract; the embedded Postgres
  rules/, secrets.py, chosen_features.py           pure rules; the secret scrubber; warning filters
"""
