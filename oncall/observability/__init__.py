"""Observability of the pager itself: Prometheus metrics of each process (`metrics`) and
OpenTelemetry traces of each incident's road from ingest to a provider call (`tracing`).

Both cost next to nothing when unused: the histograms are in-memory counters (or mmap'ed files in
Prometheus' multiprocess mode), and tracing installs no SDK unless an OTLP endpoint is set.
"""
