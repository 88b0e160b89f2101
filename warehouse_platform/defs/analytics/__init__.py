"""The dbt models and their exports, as the defs folder serves them."""
