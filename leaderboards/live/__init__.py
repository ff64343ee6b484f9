"""The outgoing side of live updates: the protocol (message types, codes) and ``broadcast``,
the one way messages leave."""
