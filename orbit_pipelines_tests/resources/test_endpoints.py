"""Endpoints are resolved when a run uses them, never frozen when the code location loads: a run made
before the local stack restarted on new ports reaches the new servers when it is re-executed."""

from orbit_pipelines.resources.documents import DocumentStorage, VeryfiResource
from orbit_pipelines.resources.llm import LLMResource


def test_the_s3_endpoint_is_read_when_the_run_uses_it(monkeypatch):
    storage = DocumentStorage()
    monkeypatch.setenv("ORBIT_S3_ENDPOINT_URL", "http://127.0.0.1:9001")
    assert storage.endpoint() == "http://127.0.0.1:9001"
    assert storage.client().meta.endpoint_url == "http://127.0.0.1:9001"
    monkeypatch.setenv("ORBIT_S3_ENDPOINT_URL", "http://127.0.0.1:9002")
    assert storage.client().meta.endpoint_url == "http://127.0.0.1:9002"


def test_without_an_endpoint_s3_is_aws_and_links_go_to_its_console(monkeypatch):
    monkeypatch.delenv("ORBIT_S3_ENDPOINT_URL", raising=False)
    storage = DocumentStorage(region_name="eu-west-1")
    assert storage.endpoint() is None
    assert storage.console_url("a/b.pdf").startswith("https://s3.console.aws.amazon.com/")


def test_the_veryfi_and_llm_endpoints_are_read_when_the_run_uses_them(monkeypatch):
    veryfi = VeryfiResource(client_id="c", username="u", api_key="k")
    llm = LLMResource()
    monkeypatch.setenv("VERYFI_BASE_URL", "http://127.0.0.1:9003/api/")
    monkeypatch.setenv("ORBIT_LLM_BASE_URL", "http://127.0.0.1:9004/v1")
    monkeypatch.setenv("ORBIT_LLM_MODEL", "m")
    assert veryfi.client().base_url.startswith("http://127.0.0.1:9003/api/")
    assert (llm.endpoint(), llm.model_name(), llm.missing_settings()) == ("http://127.0.0.1:9004/v1", "m", [])


def test_the_definitions_bind_no_endpoint_at_load():
    from orbit_pipelines.definitions import defs

    resources = defs.resources
    assert resources["storage"].endpoint_url is None
    assert resources["veryfi"].base_url == ""
    assert (resources["llm"].base_url, resources["llm"].model) == ("", "")
