"""An OpenAI-compatible chat-completions client (hosted APIs, vLLM, Ollama) and where its calls are recorded."""

from orbit_pipelines.llm.client import (
    ChatAnswer,
    ChatClient,
    LLMBadResponse,
    LLMError,
    LLMRateLimited,
    LLMRejected,
    LLMServerError,
    LLMTransportError,
)

__all__ = [
    "ChatAnswer",
    "ChatClient",
    "LLMBadResponse",
    "LLMError",
    "LLMRateLimited",
    "LLMRejected",
    "LLMServerError",
    "LLMTransportError",
]
