"""Compliance checks against MLPS 2.0 and GB/T 39786, with signed reports."""
