"""Who is paged and what they are told: targets resolved to people, people to contact plans,
outbox rows to notices. Used by the worker, the API and the web app alike; imports no worker."""
