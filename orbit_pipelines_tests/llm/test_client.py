"""The chat-completions client against the local OpenAI-compatible emulator over real HTTP."""

import pytest

from orbit_pipelines.llm import (
    ChatClient,
    LLMBadResponse,
    LLMRateLimited,
    LLMRejected,
    LLMServerError,
    LLMTransportError,
)

MESSAGES = [{"role": "system", "content": "Answer JSON."}, {"role": "user", "content": "Say hi."}]


@pytest.fixture
def client(llm_emulator):
    made = ChatClient(
        llm_emulator.base_url, "gpt-test", llm_emulator.api_key, read_timeout=1.0, max_response_bytes=100_000
    )
    yield made
    made.close()


def test_an_answer_carries_its_content_model_and_token_usage(client, llm_emulator):
    llm_emulator.answer_next('{"hello": "world"}')
    answer = client.complete(MESSAGES, max_tokens=50)
    assert answer.content == '{"hello": "world"}'
    assert answer.model == "gpt-test" and answer.finish_reason == "stop"
    assert answer.prompt_tokens > 0 and answer.completion_tokens > 0


def test_the_request_is_an_openai_chat_completion_with_the_bearer_key(client, llm_emulator):
    client.complete(MESSAGES, max_tokens=50, temperature=0.0)
    (sent,) = llm_emulator.requests
    assert sent.authorization == f"Bearer {llm_emulator.api_key}"
    assert sent.body == {
        "model": "gpt-test",
        "messages": MESSAGES,
        "max_tokens": 50,
        "temperature": 0.0,
        "response_format": {"type": "json_object"},
    }


def test_json_mode_can_be_turned_off_for_servers_that_refuse_it(client, llm_emulator):
    client.complete(MESSAGES, max_tokens=50, json_mode=False)
    assert "response_format" not in llm_emulator.requests[0].body


def test_a_rate_limit_is_retryable_after_the_servers_retry_after(client, llm_emulator):
    llm_emulator.retry_after = 7
    llm_emulator.next("rate_limited")
    with pytest.raises(LLMRateLimited) as raised:
        client.complete(MESSAGES, max_tokens=50)
    assert raised.value.retryable and raised.value.retry_after == 7.0 and raised.value.status == 429


def test_a_server_error_is_retryable_with_the_servers_message(client, llm_emulator):
    llm_emulator.next("server_error")
    with pytest.raises(LLMServerError) as raised:
        client.complete(MESSAGES, max_tokens=50)
    assert raised.value.retryable and "HTTP 500" in str(raised.value)
    assert "The server had an error" in str(raised.value)


def test_a_slow_answer_times_out_as_a_retryable_transport_error(client, llm_emulator):
    llm_emulator.slow_seconds = 3
    llm_emulator.next("slow")
    with pytest.raises(LLMTransportError) as raised:
        client.complete(MESSAGES, max_tokens=50)
    assert raised.value.retryable and "timed out" in str(raised.value)


def test_a_wrong_key_is_refused_for_good_and_the_key_never_appears_in_the_error(llm_emulator):
    wrong = ChatClient(llm_emulator.base_url, "gpt-test", "not-the-right-key-123", read_timeout=1.0)
    with pytest.raises(LLMRejected) as raised:
        wrong.complete(MESSAGES, max_tokens=50)
    assert not raised.value.retryable and raised.value.status == 401
    assert "Incorrect API key provided" in str(raised.value)
    assert "not-the-right-key-123" not in str(raised.value) + repr(wrong)


def test_an_answer_larger_than_the_cap_is_refused_unread(client, llm_emulator):
    llm_emulator.next("oversized")
    with pytest.raises(LLMBadResponse) as raised:
        client.complete(MESSAGES, max_tokens=50)
    assert not raised.value.retryable and "larger than 100000 bytes" in str(raised.value)


def test_a_cut_off_body_is_a_retryable_bad_response(client, llm_emulator):
    llm_emulator.next("garbled")
    with pytest.raises(LLMBadResponse) as raised:
        client.complete(MESSAGES, max_tokens=50)
    assert raised.value.retryable and "not a chat completion" in str(raised.value)


def test_a_base_url_without_the_api_root_is_refused_naming_the_path(llm_emulator):
    client = ChatClient(llm_emulator.base_url.removesuffix("/v1"), "m", llm_emulator.api_key, read_timeout=1.0)
    with pytest.raises(LLMRejected) as raised:
        client.complete(MESSAGES, max_tokens=5)
    assert raised.value.status == 404 and "no route /chat/completions" in str(raised.value)


def test_nothing_listening_is_a_retryable_transport_error():
    client = ChatClient("http://127.0.0.1:9/v1", "m", connect_timeout=1.0, read_timeout=1.0)
    with pytest.raises(LLMTransportError) as raised:
        client.complete(MESSAGES, max_tokens=5)
    assert raised.value.retryable and "connection failed" in str(raised.value)
