"""Delivery areas: which fee an address pays, or that the restaurant doesn't deliver there."""
