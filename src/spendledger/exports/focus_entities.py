"""Who is who in a FOCUS row: the route that bills a charge and the maker of its model.

The ledger's provider is the route a call was bought through (`aws` for Bedrock,
`azure`, `google` for Vertex and the Gemini API, `openrouter`: model_names.py). FOCUS
names the entities by display name:

- InvoiceIssuerName and ProviderName (1.2; deprecated in 1.3) are the route: who bills it
  and sold it ("Amazon Web Services" for Claude on Bedrock);
- PublisherName (1.2) and ServiceProviderName (1.3) are the model's maker where it is a
  different entity from the route ("Anthropic" for Claude on Bedrock, Azure, Vertex or
  OpenRouter; "Meta" for Llama on Groq), else the route;
- HostProviderName (1.3) is the route: the cloud or gateway the model runs on or is
  reached through (the maker itself when bought directly).

The maker is read from the provider's own model id where the record keeps one (Bedrock's
`us.anthropic.…`, OpenRouter's `anthropic/…`, in the `provider_model` tag), else from the
model's family (`claude-` → Anthropic). An unknown model's maker is the route. The same
tables map the display names back to the ledger's provider names when a FOCUS file is
read (`PROVIDER_BY_NAME`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from spendledger.model_names import PROVIDER_MODEL_TAG


@dataclass(frozen=True, slots=True)
class Route:
    name: str  # the entity's display name
    service: str  # FOCUS's ServiceName for its generative AI


ROUTES: dict[str, Route] = {
    "openai": Route("OpenAI", "OpenAI API"),
    "anthropic": Route("Anthropic", "Claude API"),
    "aws": Route("Amazon Web Services", "Amazon Bedrock"),
    "azure": Route("Microsoft", "Azure OpenAI"),
    "google": Route("Google Cloud", "Vertex AI"),
    "openrouter": Route("OpenRouter", "OpenRouter"),
    "mistral": Route("Mistral AI", "Mistral AI API"),
    "deepseek": Route("DeepSeek", "DeepSeek API"),
    "xai": Route("xAI", "xAI API"),
    "github-copilot": Route("GitHub", "GitHub Copilot"),
    "groq": Route("Groq", "GroqCloud"),
    "together": Route("Together AI", "Together AI"),
    "fireworks": Route("Fireworks AI", "Fireworks AI"),
    "perplexity": Route("Perplexity", "Perplexity API"),
    "cohere": Route("Cohere", "Cohere API"),
}
# makers that are no route of their own: the ledger names them as their model ids do
MAKERS: dict[str, str] = {
    "meta": "Meta",
    "amazon": "Amazon Web Services",  # Nova and Titan: AWS's own models, one entity with the route
    "microsoft": "Microsoft",  # Phi: Azure's own
    "alibaba": "Alibaba Cloud",
    "ai21": "AI21 Labs",
    "moonshotai": "Moonshot AI",
    "nvidia": "NVIDIA",
    "writer": "Writer",
    "minimax": "MiniMax",
    "zai": "Z.ai",
}
# a vendor as the providers' model ids spell it (bedrock's `anthropic.`, openrouter's `meta-llama/`)
_VENDORS: dict[str, str] = {
    "meta-llama": "meta",
    "mistralai": "mistral",
    "x-ai": "xai",
    "qwen": "alibaba",
    "z-ai": "zai",
    "google": "google",
}
# the model families of each maker, by the start of the ledger's model name
_FAMILIES: tuple[tuple[str, str], ...] = (
    ("claude", "anthropic"),
    ("gpt-", "openai"), ("chatgpt", "openai"), ("o1", "openai"), ("o3", "openai"), ("o4", "openai"),
    ("text-embedding-3", "openai"), ("dall-e", "openai"), ("whisper", "openai"), ("tts-", "openai"),
    ("gemini", "google"), ("gemma", "google"), ("imagen", "google"),
    ("llama", "meta"),
    ("mistral", "mistral"), ("mixtral", "mistral"), ("codestral", "mistral"), ("ministral", "mistral"),
    ("pixtral", "mistral"), ("magistral", "mistral"), ("devstral", "mistral"),
    ("command", "cohere"), ("nova-", "amazon"), ("titan", "amazon"),
    ("deepseek", "deepseek"), ("grok", "xai"), ("jamba", "ai21"), ("qwen", "alibaba"),
    ("phi-", "microsoft"), ("kimi", "moonshotai"), ("glm", "zai"), ("minimax", "minimax"),
)  # fmt: skip
_SAME_ENTITY = {("aws", "amazon"), ("azure", "microsoft")}  # a route selling its own company's model
_BEDROCK_VENDOR = re.compile(r"^(?:[a-z-]+\.)?([a-z0-9-]+)\.")  # us.anthropic.claude-…, anthropic.claude-…
_MAX_NAME = 200


def route_name(provider: str) -> str:
    """The display name of a route (the ledger's provider name as it is when unknown)."""
    found = ROUTES.get(provider)
    return found.name if found else (provider or "Unknown")[:_MAX_NAME]


def service_name(provider: str, tags: dict[str, Any]) -> str:
    """FOCUS's ServiceName: the bill's own service where the record keeps it, else the route's."""
    service = tags.get("service")
    if isinstance(service, str) and service.strip():
        return service.strip()[:_MAX_NAME]
    found = ROUTES.get(provider)
    return found.service if found else route_name(provider)


def maker(provider: str, model: str, tags: dict[str, Any]) -> str:
    """The ledger name of the model's maker: the route itself when unknown or the same entity."""
    provider_model = tags.get(PROVIDER_MODEL_TAG)
    return _maker(provider, model, provider_model if isinstance(provider_model, str) else "")


def maker_name(provider: str, model: str, tags: dict[str, Any]) -> str:
    """The display name of the model's maker (the route's when it is the route)."""
    found = maker(provider, model, tags)
    if found == provider:
        return route_name(provider)
    return MAKERS.get(found) or route_name(found)


@lru_cache(maxsize=4096)  # an export asks once per charge; a ledger holds a few hundred models
def _maker(provider: str, model: str, provider_model: str) -> str:
    found = _vendor(provider_model) or _family(model)
    if not found or found == provider or (provider, found) in _SAME_ENTITY:
        return provider
    return found


def _vendor(provider_model: str) -> str:
    if not provider_model:
        return ""
    text = provider_model.strip().lower()
    if "/" in text:  # openrouter's and vertex's vendor/model
        head = text.split("/", 1)[0]
    elif bedrock := _BEDROCK_VENDOR.match(text):
        head = bedrock[1]
    else:
        return ""
    vendor = _VENDORS.get(head, head)
    return vendor if vendor in ROUTES or vendor in MAKERS else ""


def _family(model: str) -> str:
    name = model.strip().lower()
    return next((who for prefix, who in _FAMILIES if name.startswith(prefix)), "")


# display names → the ledger's provider names, for reading a FOCUS file back
PROVIDER_BY_NAME: dict[str, str] = {
    **{route.name.lower(): provider for provider, route in ROUTES.items()},
    **{name.lower(): maker for maker, name in MAKERS.items() if maker not in ("amazon", "microsoft")},
}
