"""What a real API server refuses ends the request with the server's words, at once.

Both halves of issue 12's first point against the dev cluster, which now refuses requests above
limits as a real server does: requests alone get limits that follow them (the request succeeds),
and explicit limits below the requests end the request Failed with the 422 message instead of a
create retried forever.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from lightkube import Client

from scenefarm_devkit.devenv import DevEnv

from .conftest import create, jobs_of, video_request, wait_terminal

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevEnv]:
    with DevEnv(tmp_path_factory.mktemp("refusals"), instant=True, rbac_from_chart=True) as running:
        running.start_operator()
        yield running


@pytest.fixture(scope="module")
def client(env: DevEnv) -> Client:
    return env.client()


def test_requests_above_the_default_limits_render_with_limits_that_follow(client: Client) -> None:
    resources = {"requests": {"cpu": "4", "memory": "4Gi"}}
    create(
        client,
        video_request(
            "big-requests", [("only", "self.wait(0.2)")], render={"quality": "low", "resources": resources}
        ),
    )
    status = wait_terminal(client, "big-requests", timeout=120)
    assert status["phase"] == "Succeeded", status.get("message")
    [job, *_] = [
        j for j in jobs_of(client, "big-requests") if j.metadata.labels["scenefarm.dev/role"] == "scene"
    ]
    limits = job.spec.template.spec.containers[0].resources.limits
    assert limits == {"cpu": "4", "memory": "4Gi"}


def test_limits_below_requests_fail_the_request_with_the_servers_message(env: DevEnv, client: Client) -> None:
    resources = {"requests": {"memory": "4Gi"}, "limits": {"memory": "2Gi"}}
    create(
        client,
        video_request(
            "limits-too-low", [("only", "self.wait(0.2)")], render={"quality": "low", "resources": resources}
        ),
    )
    status = wait_terminal(client, "limits-too-low", timeout=120)
    assert status["phase"] == "Failed"
    assert "must be less than or equal to memory limit of 2Gi" in status["message"]
    refused = [
        r
        for r in env.cluster.request_log
        if (r.identity, r.verb, r.resource, r.status) == ("operator", "create", "jobs", 422)
    ]
    assert len(refused) == 1, "refused once, not retried"
