"""Fixtures of the onboarding test: a center_d export in a format the project has not seen."""
