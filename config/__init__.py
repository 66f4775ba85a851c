"""Settings for backwatch (pydantic-settings) and the documented example configuration."""
