"""The credit ledger, the score and its pages."""
