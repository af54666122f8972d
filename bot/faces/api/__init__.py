"""recbot's HTTP API for customer-service systems and other programs (FastAPI).

``create_app(settings)`` builds the application; ``recbot serve`` runs it with uvicorn. See
:mod:`bot.faces.api.app` for the route list, :mod:`bot.faces.api.sessions` and :mod:`bot.faces.api.health` for the
routes, :mod:`bot.faces.api.openai_compat` for the OpenAI-compatible endpoint and :mod:`bot.faces.api.security`
for API keys and limits. The routes reach recbot only through :class:`bot.chat_service.ChatService`.
"""

from bot.faces.api.app import app_from_env, create_app
from bot.faces.api.security import ApiConfig, hash_key, new_key

__all__ = ["ApiConfig", "app_from_env", "create_app", "hash_key", "new_key"]
