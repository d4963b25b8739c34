"""On-call health reports per team and per service: incidents by priority, MTTA and MTTR,
pages and night pages per person, hours on call (docs/reports.md)."""
