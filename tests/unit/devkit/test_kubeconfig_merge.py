from pathlib import Path

import yaml

from scenefarm_devkit.kubeconfig_merge import CONTEXT, current_context, target_path

DEV = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [{"name": "scenefarm-dev", "cluster": {"server": "http://127.0.0.1:4000"}}],
    "users": [{"name": "admin", "user": {"token": "dev-token"}}],
    "contexts": [
        {
            "name": "scenefarm-dev",
            "context": {"cluster": "scenefarm-dev", "user": "admin", "namespace": "default"},
        }
    ],
    "current-context": "scenefarm-dev",
}
MINE = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [{"name": "prod", "cluster": {"server": "https://prod"}}],
    "users": [{"name": "admin", "user": {"token": "prod-token"}}],
    "contexts": [{"name": "prod", "context": {"cluster": "prod", "user": "admin"}}],
    "current-context": "prod",
}


def test_while_up_the_dev_cluster_is_current_and_afterwards_the_file_is_as_before(tmp_path: Path) -> None:
    dev, mine = tmp_path / "dev", tmp_path / "config"
    dev.write_text(yaml.safe_dump(DEV))
    mine.write_text(yaml.safe_dump(MINE))
    with current_context(dev, mine):
        during = yaml.safe_load(mine.read_text())
        assert during["current-context"] == CONTEXT
        users = {u["name"]: u["user"]["token"] for u in during["users"]}
        assert users == {"admin": "prod-token", CONTEXT: "dev-token"}  # the other "admin" is untouched
        context = next(c for c in during["contexts"] if c["name"] == CONTEXT)["context"]
        assert context == {"cluster": CONTEXT, "user": CONTEXT, "namespace": "default"}
        assert mine.stat().st_mode & 0o077 == 0
    assert yaml.safe_load(mine.read_text()) == MINE


def test_a_missing_kubeconfig_is_created_while_up_and_removed_afterwards(tmp_path: Path) -> None:
    dev, mine = tmp_path / "dev", tmp_path / ".kube" / "config"
    dev.write_text(yaml.safe_dump(DEV))
    with current_context(dev, mine):
        assert yaml.safe_load(mine.read_text())["current-context"] == CONTEXT
    assert not mine.exists()  # it did not exist before: none is left behind


def test_kubectl_s_file_is_the_first_in_KUBECONFIG_else_the_home_one(tmp_path: Path) -> None:
    assert target_path({"KUBECONFIG": f"{tmp_path}/a:{tmp_path}/b"}) == tmp_path / "a"
    assert target_path({}) == Path("~/.kube/config").expanduser()
