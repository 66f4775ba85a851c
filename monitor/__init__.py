"""The backwatch daemon: wiring, command line, and the numpy evaluation of sample streams."""
