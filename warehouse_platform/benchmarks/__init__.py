"""`make bench`, `make bench-scaling`, `make bench-logs`: figures, not tests. At the top: may import anything; nothing imports it."""
