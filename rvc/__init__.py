"""Retrieval-based Voice Conversion: the library behind the WebUI."""
