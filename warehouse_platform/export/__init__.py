"""stage/exports/<model> assets: analytics tables written back to the stage (UNLOAD / COPY TO). Imports warehouse/, stage/ and below; imported by defs/."""
