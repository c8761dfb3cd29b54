"""Integrations with systems outside sponsorflow: outbound webhooks (and, in time, HRIS intake)."""
