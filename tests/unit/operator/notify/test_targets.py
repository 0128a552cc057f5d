import pytest

from scenefarm_operator.observe.notify import targets
from scenefarm_operator.support.errors import SettingsError


def public(*addresses: str) -> targets.Resolver:
    async def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolve


def test_the_allowlist_reads_names_urls_and_key_files(tmp_path) -> None:
    (tmp_path / "team").write_text("s3cret\n")
    got = targets.parse_allowlist('[{"name": "team", "url": "https://hooks.example.com/x"}]', str(tmp_path))
    assert got["team"] == targets.Target("team", "https://hooks.example.com/x", "s3cret", False)


def test_a_malformed_allowlist_is_a_settings_error() -> None:
    with pytest.raises(SettingsError, match="SCENEFARM_NOTIFY_TARGETS"):
        targets.parse_allowlist('{"name": "x"}', "")


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "https://user:pw@example.com/x", "not a url", "https:///nohost"]
)
def test_only_plain_http_and_https_urls_are_accepted(url: str) -> None:
    with pytest.raises(targets.TargetError):
        targets.check_url(url)


def test_a_secret_needs_url_and_signing_key() -> None:
    with pytest.raises(targets.TargetError, match="does not exist"):
        targets.from_secret("hook", None)
    with pytest.raises(targets.TargetError, match="signingKey"):
        targets.from_secret("hook", {"url": "https://example.com"})
    got = targets.from_secret("hook", {"url": "https://example.com/h", "signingKey": "k"})
    assert got.url == "https://example.com/h" and not got.allow_private


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "::1",
        "fe80::1",
        "::ffff:10.0.0.1",
        "0.0.0.0",
    ],
)
async def test_private_loopback_and_link_local_destinations_are_refused(address: str) -> None:
    target = targets.Target("secret/hook", "https://hooks.example.com/x", "k")
    with pytest.raises(targets.TargetError, match="non-public"):
        await targets.check_destination(target, public("93.184.215.14", address))


async def test_an_ip_literal_is_checked_without_resolving() -> None:
    target = targets.Target("secret/hook", "http://169.254.169.254/latest/meta-data", "k")
    with pytest.raises(targets.TargetError, match=r"169\.254\.169\.254"):
        await targets.check_destination(target, public())


async def test_public_destinations_and_allowlisted_private_ones_pass() -> None:
    await targets.check_destination(
        targets.Target("t", "https://hooks.example.com", "k"), public("93.184.215.14")
    )
    await targets.check_destination(targets.Target("t", "http://10.0.0.5", "k", allow_private=True), public())
