"""Orders between a buyer and a seller: requests, acceptance, hand-over, cancellation, disputes, messages."""
