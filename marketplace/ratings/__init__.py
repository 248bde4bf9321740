"""Double-blind mutual ratings after a completed order, and the reputation they add up to."""
