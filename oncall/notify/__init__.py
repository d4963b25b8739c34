"""Notifications: what a notice says (`message`), who carries it (`providers`), and where the
providers are (`settings`). No database here: the dispatcher decides what to send and records
what came back."""
