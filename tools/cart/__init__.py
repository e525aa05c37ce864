"""The cart: lines priced from the database, options and removals validated against the menu."""
