"""Pictures of a night's figures (SLA curves) for people who would rather look than read."""
