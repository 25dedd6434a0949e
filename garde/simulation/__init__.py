"""Nights on a simulated clock: what a roster will give before the night (forecast).

Above the core (`garde.dispatch`) and the store: it reads history from the store, drives
the dispatch core through `garde.dispatch.simulation`, and writes figures.
"""
