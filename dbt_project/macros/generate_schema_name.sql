{#- A model's +schema is the warehouse schema itself (analytics, adhoc), not dbt's default
    "<target schema>_<custom schema>", so dbt writes where analysts and the asset keys expect. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
