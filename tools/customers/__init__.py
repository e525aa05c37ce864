"""Customers: identification by phone, registration, addresses."""
