"""recbot inside other frameworks. :mod:`bot.integrations.langchain`: a retriever, a Runnable and a tool."""
