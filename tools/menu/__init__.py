"""The menu: file format and import, opening hours, search and item details."""
