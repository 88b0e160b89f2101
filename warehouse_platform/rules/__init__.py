"""The pure rules checks and loads judge by: row volume, distribution skew, freshness, the rejected-line share, data versions. Imports nothing of the platform; imported by warehouse/ and quality/."""
