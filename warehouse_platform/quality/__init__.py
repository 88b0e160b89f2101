"""Asset checks that catch what Redshift never will: duplicate keys, distribution skew,
staged-vs-loaded reconciliation, type limits. dbt's own tests arrive as checks through
transform/; the checks on raw tables live here, and inputs_fresh on the models (their daily inputs'
freshness, through lineage). Imports warehouse/, extract/, stage/ and below;
imported by automation/, components/ and defs/analytics/."""
