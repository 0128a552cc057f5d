# The scenefarm operator image: `kopf run` over scenefarm_operator, as uid 10001.
# Build from the repository root:  docker build -f deploy/operator.Dockerfile -t scenefarm-operator .
# (deploy/operator.Dockerfile.dockerignore keeps .venv, .tools and .git out of the context.)

# The operator installs `scenefarm` without extras: the product and the contract, no Manim, PyAV,
# numpy or dev-kit dependencies (docs/architecture.md lists the closure), so no compilers and no
# cairo/pango are needed in either stage.
FROM python:3.11.13-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/scenefarm
WORKDIR /src
COPY pyproject.toml README.md ./
COPY contract/ contract/
COPY operator/ operator/
COPY cli/ cli/
COPY renderer_image/ renderer_image/
COPY devkit/ devkit/
COPY crds/ crds/
COPY examples/ examples/
COPY charts/ charts/
RUN /opt/scenefarm/bin/pip install /src

FROM python:3.11.13-slim-bookworm
RUN groupadd --gid 10001 scenefarm \
 && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin scenefarm
COPY --from=build /opt/scenefarm /opt/scenefarm
ENV PATH=/opt/scenefarm/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
# Numeric, so the kubelet can verify runAsNonRoot without reading /etc/passwd.
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["kopf", "run"]
# The chart passes its own arguments; these are the single-Pod, all-namespaces defaults.
CMD ["-m", "scenefarm_operator.main", "--standalone", "--all-namespaces", "--liveness=http://0.0.0.0:8080/healthz"]
