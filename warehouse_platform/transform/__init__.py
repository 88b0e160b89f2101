"""dbt: the analytics assets, their translator, the dbt resource and the rules that keep model pages complete. Imports warehouse/ and below; imported by defs/ and environment.py."""
