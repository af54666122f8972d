"""The recbot web page (Gradio): chat with recommendation cards, settings and a prompt lab.

``build_app(settings)`` returns the ``gr.Blocks``; ``launch(settings, host=..., port=...)`` serves it.
Importing this package imports Gradio, so only the app layer (``recbot app``) should.
"""

from bot.faces.ui.app import MAX_CARDS, build_app, launch, launch_options, mount

__all__ = ["MAX_CARDS", "build_app", "launch", "launch_options", "mount"]
