"""Persistence: engine, models, migrations. Business rules live elsewhere."""
