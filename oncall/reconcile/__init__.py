"""The reconciler: desired config (git) → plan → apply to the database, and drift back."""
