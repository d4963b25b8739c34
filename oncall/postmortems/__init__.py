"""Postmortems: open, edit, review and publish; the generated timeline and key figures;
action items and their reminders."""
