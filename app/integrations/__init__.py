"""Integrations with other systems: inbound HRIS webhooks (hris/)."""
