"""Keycloak admin clients."""
