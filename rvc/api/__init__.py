"""The REST API (`/api/v2`): FastAPI routes over `rvc.service`, with SSE progress and WebSocket logs.

`create_api(token)` builds the application; webui.py mounts it on the Gradio server. Routes only parse,
call `rvc.service` and shape the answer; the service's exceptions become HTTP statuses in `rvc.api.errors`.
"""

from rvc.api.app import PREFIX, create_api
from rvc.api.auth import api_token, is_loopback

__all__ = ["PREFIX", "api_token", "create_api", "is_loopback"]
