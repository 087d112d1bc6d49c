"""Detections and alerts over the audit trail (Sigma rules, two engines)."""
