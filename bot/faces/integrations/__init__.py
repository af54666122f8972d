"""recbot inside other frameworks. :mod:`bot.faces.integrations.langchain`: a retriever, a Runnable and a tool."""
