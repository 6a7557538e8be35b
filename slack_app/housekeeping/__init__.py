"""Keeping Hearth's bookkeeping tables small: records that have done their job are dropped."""
