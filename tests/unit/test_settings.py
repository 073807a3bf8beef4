from pathlib import Path

import pytest

from config import ConfigError, Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_run_locally_with_auth_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NLU_CACHE_DIR", raising=False)  # the tests' shared cache
    settings = Settings.from_mapping({})
    assert (settings.PORT, settings.HOST, settings.STORAGE) == (3978, "127.0.0.1", "sqlite")
    assert settings.ORDER_API_URL is None and settings.SCHEDULING_API_URL is None
    assert settings.nlu_cache_dir == settings.DATA_DIR / "nlu-cache"
    elsewhere = Settings.from_mapping({"NLU_CACHE_DIR": "/var/cache/bot-nlu"})
    assert elsewhere.nlu_cache_dir == Path("/var/cache/bot-nlu")
    assert not settings.auth_enabled
    assert (settings.APP_ID, settings.APP_TYPE) == ("", "MultiTenant")


@pytest.mark.parametrize(
    ("values", "named"),
    [
        (
            {
                "MicrosoftAppType": "SingleTenant",
                "MicrosoftAppId": "id",
                "MicrosoftAppPassword": "p",
            },
            "MicrosoftAppTenantId",
        ),
        ({"MicrosoftAppType": "UserAssignedMSI", "MicrosoftAppTenantId": "t"}, "MicrosoftAppId"),
        ({"MicrosoftAppId": "id"}, "MicrosoftAppPassword"),
        ({"MicrosoftAppType": "Anonymous"}, "MicrosoftAppType"),
        ({"PORT": "eighty"}, "PORT"),
        ({"STORAGE": "postgres"}, "STORAGE"),
        ({"ORDER_API_URL": "not a url"}, "ORDER_API_URL"),
        ({"SCHEDULING_API_URL": "ftp://example.com"}, "SCHEDULING_API_URL"),
    ],
)
def test_bad_settings_name_the_variable_to_set(values: dict, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        Settings.from_mapping(values)


def test_single_tenant_with_everything_set_is_accepted() -> None:
    settings = Settings.from_mapping(
        {
            "MicrosoftAppType": "singletenant",
            "MicrosoftAppId": "app",
            "MicrosoftAppPassword": "secret",
            "MicrosoftAppTenantId": "tenant",
        }
    )
    assert settings.APP_TYPE == "SingleTenant"
    assert settings.APP_PASSWORD == "secret"
    assert "secret" not in repr(settings)


def test_env_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PORT", raising=False)
    env_file = tmp_path / ".env"
    env_file.write_text("PORT=4001\nSTORAGE=memory\n")
    settings = load_settings(env_file)
    assert (settings.PORT, settings.STORAGE) == (4001, "memory")


def test_env_example_lists_every_setting() -> None:
    example = (ROOT / ".env.example").read_text()
    names = {line.split("=", 1)[0].lstrip("# ") for line in example.splitlines() if "=" in line}
    assert set(Settings.model_fields) <= names


def test_clu_needs_its_endpoint_project_and_deployment() -> None:
    with pytest.raises(ConfigError, match="CLU_ENDPOINT and CLU_PROJECT and CLU_DEPLOYMENT"):
        Settings.from_mapping({"NLU": "clu"})
    with pytest.raises(ConfigError, match="NLU"):
        Settings.from_mapping({"NLU": "luis"})
