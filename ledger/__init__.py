"""ledger: an event-sourced case ledger for social-insurance fee collection disputes."""
