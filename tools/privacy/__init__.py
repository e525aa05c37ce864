"""LGPD: consent, the customer's copy of their data (export) and its erasure."""
