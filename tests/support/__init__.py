"""Helpers the tests share: databases, tenants, problem assertions, casework over HTTP, rule factories."""
