"""Unified identity on Keycloak: realm as code, the org tree, app onboarding, token verification."""
