"""Pure domain logic: plain data and policies, no I/O, no web, no SQL."""
