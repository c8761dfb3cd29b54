"""sponsorflow: UK Skilled Worker sponsorship as state machines with working-day deadlines."""

__version__ = "0.1.0"
