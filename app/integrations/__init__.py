"""Integrations with systems outside sponsorflow: inbound HRIS webhooks (hris/) and outbound webhooks
(webhooks/)."""
