"""The running product's assembly, above `garde.bootstrap` and `garde.scheduling`.

`serve` (server), hot reload, and the demo night that drives a whole serve. The services
below decide and store; this package wires them to the clock, the scheduler and the network.
"""
