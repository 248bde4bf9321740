"""Campus flea markets, community swap events and book-sharing days."""
