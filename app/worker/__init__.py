"""Background work: one loop and the jobs it runs each tick.

The same `Worker` runs embedded in the API process (the lifespan task, the SQLite default), as
`sponsorflow worker` processes on PostgreSQL (any number: jobs claim rows with FOR UPDATE SKIP LOCKED),
and, for the deadline job, right after a test clock is advanced. A job is a plain coroutine over the
session factory and `now`; it calls the same use cases the API calls.
"""
