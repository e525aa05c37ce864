"""Checkout and orders: summary priced from the database, placement with its outbox event."""
