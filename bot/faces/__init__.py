"""The faces of recbot: the HTTP API (``api``), the Gradio page (``ui``), the command line (``cli`` and
``commands``) and framework integrations (``integrations``). They talk only to
:class:`bot.chat_service.ChatService` and the result types it exports, never to the store or the engine."""
