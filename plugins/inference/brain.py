"""What the live avatar says back. By default it repeats what it was told (a person trying their
avatar out wants to hear their words in its mouth); with TWINFORGE_BRAIN_URL it asks any
OpenAI-compatible chat endpoint (`POST …/v1/chat/completions`) for a reply, with the conversation so
far, so that an operator plugs in whichever model they run without this service knowing which.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import aiohttp

from plugins.sdk.errors import StageFailed

HISTORY_TURNS = 8  # the last exchanges sent with each question: enough for "and then?", short enough to stay fast
MAX_REPLY_CHARACTERS = 600  # a reply is spoken live: a minute at most, not an essay the person must sit through


@dataclass
class Brain:
    """Echo unless `url` is set. `history` holds one conversation (one live session has its own Brain)."""

    url: str = ""
    model: str = ""
    api_key: str = ""
    prompt: str = ""
    timeout_s: float = 20.0
    history: list[dict[str, str]] = field(default_factory=list)

    @property
    def echoes(self) -> bool:
        return not self.url

    async def reply(self, text: str) -> str:
        """The words to speak in answer to `text`."""
        if self.echoes:
            return text
        messages = ([{"role": "system", "content": self.prompt}] if self.prompt else []) + self.history[-2 * HISTORY_TURNS:]
        messages.append({"role": "user", "content": text})
        answer = await self.complete(messages)
        self.history += [{"role": "user", "content": text}, {"role": "assistant", "content": answer}]
        return answer

    async def complete(self, messages: list[dict[str, str]]) -> str:
        endpoint = chat_endpoint(self.url)
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        body = {"model": self.model, "messages": messages, "stream": False}
        advice = "check TWINFORGE_BRAIN_URL, TWINFORGE_BRAIN_MODEL and TWINFORGE_BRAIN_API_KEY, or leave the URL empty to have the avatar repeat what is typed"
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s)) as session:
                async with session.post(endpoint, json=body, headers=headers) as response:
                    if response.status != 200:
                        words = (await response.text())[:300]
                        raise StageFailed("brain_refused", f"the chat endpoint answered HTTP {response.status}: {words}", advice)
                    reply = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise StageFailed("brain_unreachable", f"the chat endpoint did not answer ({type(exc).__name__}: {exc})", advice) from None
        try:
            content = str(reply["choices"][0]["message"]["content"]).strip()
        except (KeyError, IndexError, TypeError):
            raise StageFailed("brain_refused", "the chat endpoint's answer holds no choices[0].message.content", advice) from None
        if not content:
            raise StageFailed("brain_refused", "the chat endpoint answered with an empty reply", advice)
        return content[:MAX_REPLY_CHARACTERS]


def chat_endpoint(url: str) -> str:
    """`url` may be the server (http://h:8000), its API base (…/v1) or the whole path: operators copy
    any of the three from their server's documentation."""
    url = url.rstrip("/")
    if url.endswith("/chat/completions"):
        return url
    return f"{url}/chat/completions" if url.endswith("/v1") else f"{url}/v1/chat/completions"
