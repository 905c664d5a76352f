"""The WebUI's tabs: one module per tab, each with a `build()` that lays out widgets and wires rvc.service."""
