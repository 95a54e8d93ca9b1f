import pytest

from orbit_pipelines.db import normalize_pg_url


@pytest.mark.parametrize(
    "given,expected",
    [
        ("postgresql://postgres@127.0.0.1:5432/orbit", "postgresql+psycopg2://postgres@127.0.0.1:5432/orbit"),
        ("postgres://u:p@db/orbit", "postgresql+psycopg2://u:p@db/orbit"),
        ("postgresql://postgres:@/postgres?host=/tmp/x", "postgresql+psycopg2://postgres:@/postgres?host=/tmp/x"),
        ("postgresql+psycopg2://u@h/d", "postgresql+psycopg2://u@h/d"),
        (" postgresql://u@h/d\n", "postgresql+psycopg2://u@h/d"),
    ],
)
def test_plain_postgres_urls_get_the_shipped_driver(given, expected):
    assert normalize_pg_url(given) == expected


def test_a_non_postgres_url_is_refused_with_its_scheme():
    with pytest.raises(ValueError, match="'mysql'"):
        normalize_pg_url("mysql://root@localhost/x")
