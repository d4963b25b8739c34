"""The pure core: no I/O, no database, no clock reads. Time is always a parameter."""
