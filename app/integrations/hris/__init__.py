"""HRIS intake: connections, signed receivers per provider, and the inbox that applies their events to
cases through the hires use cases (design §7)."""
