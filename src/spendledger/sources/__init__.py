"""Translators from a provider's billing API to ledger records (see base.py)."""
