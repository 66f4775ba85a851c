"""Nudges: guideline catalogue and wording, delivery policy, MQTT API and Home Assistant."""
