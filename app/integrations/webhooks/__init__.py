"""Outbound webhooks: endpoints subscribe to event types; the relay delivers the outbox to them, signed per
Standard Webhooks, in `seq` order per endpoint, retried on a published schedule, every attempt logged."""
