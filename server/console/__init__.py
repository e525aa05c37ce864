"""The staff console: live handoff inbox, orders board, menu switches, per restaurant (`/console`)."""
