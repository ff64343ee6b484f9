"""The live sockets: the consumer, the per-process member feed, the boards a socket holds, its
credentials and tickets."""
