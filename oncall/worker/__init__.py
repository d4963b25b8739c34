"""The worker: escalation timers and the notification outbox, run by Huey consumers.

Rows in the database are the promises (a step due at a time, a notification owed); Huey tasks
are only the fast path to act on them. A sweeper in every worker claims whatever is overdue, so
a lost task (killed worker, flushed Redis) delays a page by one sweep interval, never drops it.
"""
