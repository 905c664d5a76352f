"""The API's routers, one module per subject of the v2 design."""
