"""Pure decoders and command builders for the Bluetooth LE sensor protocols backwatch speaks."""
