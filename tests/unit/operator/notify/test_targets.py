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


# IPv6 addresses that carry an IPv4 address. Python's is_global says True for the first six; the
# check judges the embedded address where the embedding is fixed, and refuses the rest outright.
@pytest.mark.parametrize(
    ("address", "reason"),
    [
        (
            "::127.0.0.1",
            r"::7f00:1, an IPv4-compatible IPv6 address \(::/96, deprecated\) carrying 127\.0\.0\.1",
        ),
        ("::a9fe:a9fe", r"IPv4-compatible .* carrying 169\.254\.169\.254"),
        ("::8.8.8.8", r"IPv4-compatible .* carrying 8\.8\.8\.8"),  # refused whatever it carries
        (
            "64:ff9b::a9fe:a9fe",
            r"non-public address 169\.254\.169\.254 \(in NAT64 address 64:ff9b::a9fe:a9fe\)",
        ),
        ("64:ff9b::10.0.0.1", r"non-public address 10\.0\.0\.1 \(in NAT64"),
        ("64:ff9b:1::a9fe:a9fe", r"local-use NAT64 address \(64:ff9b:1::/48\)"),
        ("2002:7f00:1::1", r"non-public address 127\.0\.0\.1 \(in 6to4 address 2002:7f00:1::1\)"),
        ("2002:a9fe:a9fe::", r"non-public address 169\.254\.169\.254 \(in 6to4"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", r"Teredo address \(2001::/32\) tunnelling to 192\.0\.2\.45"),
        ("::ffff:169.254.169.254", r"non-public address 169\.254\.169\.254 \(in IPv4-mapped"),
        ("224.0.0.1", r"non-public address 224\.0\.0\.1"),  # multicast: is_global says True
        ("ff0e::1", r"non-public address ff0e::1"),
    ],
)
async def test_ipv6_addresses_carrying_ipv4_are_refused_with_the_reason(address: str, reason: str) -> None:
    resolved = targets.Target("secret/hook", "https://hooks.example.com/x", "k")
    with pytest.raises(targets.TargetError, match=reason) as refused:
        await targets.check_destination(resolved, public("93.184.215.14", address))
    assert "refused" in str(refused.value) and "allowPrivate" in str(refused.value)
    literal = targets.Target(
        "secret/hook", f"http://[{address}]/x" if ":" in address else f"http://{address}/", "k"
    )
    with pytest.raises(targets.TargetError, match=reason):
        await targets.check_destination(literal, public())


@pytest.mark.parametrize(
    ("address", "connect_to"),
    [
        ("64:ff9b::808:808", "64:ff9b::808:808"),  # DNS64 in an IPv6-only cluster: via the NAT64 gateway
        ("2002:808:808::1", "2002:808:808::1"),
        ("::ffff:8.8.8.8", "8.8.8.8"),  # mapped: the IPv4 address itself
    ],
)
async def test_ipv6_addresses_carrying_a_public_ipv4_address_pass(address: str, connect_to: str) -> None:
    got = await targets.check_destination(
        targets.Target("t", "https://hooks.example.com", "k"), public(address)
    )
    assert got == targets.Destination("hooks.example.com", (connect_to,))


async def test_the_host_is_resolved_once_and_the_checked_addresses_are_returned() -> None:
    calls: list[tuple[str, int]] = []

    async def resolve(host: str, port: int) -> list[str]:
        calls.append((host, port))
        return ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "93.184.215.14"]

    got = await targets.check_destination(
        targets.Target("t", "https://Hooks.Example.com:8443/x", "k"), resolve
    )
    assert calls == [("hooks.example.com", 8443)]
    assert got == targets.Destination(
        "hooks.example.com", ("93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c")
    )


async def test_a_host_that_resolves_to_nothing_is_refused() -> None:
    # Passing it would leave the lookup to the HTTP client, unchecked.
    with pytest.raises(targets.TargetError, match="resolves to no address"):
        await targets.check_destination(targets.Target("t", "https://hooks.example.com", "k"), public())


async def test_an_allowlisted_private_target_is_not_pinned() -> None:
    got = await targets.check_destination(
        targets.Target("t", "http://10.0.0.5", "k", allow_private=True), public()
    )
    assert got == targets.Destination("10.0.0.5", ())
