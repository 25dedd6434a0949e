"""Nights on a simulated clock: the SLA benchmark's replay and the planners' forecast.

Above the core (`garde.dispatch`) and the store: synthetic nights (`scenario`), their replay
(`simulator`), the baselines and metrics the benchmark reports, and `forecast`, which reads
history from the store and writes figures.
"""
