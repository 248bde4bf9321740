"""The in-app notice centre: what happened to one's orders and ratings (no email or SMS)."""
