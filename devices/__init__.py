"""Bluetooth LE sensors, simulated wearers and recordings: everything that yields sample blocks."""
