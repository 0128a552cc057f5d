# The scenefarm operator image: `kopf run` over scenefarm_operator, as uid 10001.
# Build from the repository root:  docker build -f deploy/operator.Dockerfile -t scenefarm-operator .
# (deploy/operator.Dockerfile.dockerignore keeps .venv, .tools and .git out of the context.)

# The project's dependencies include Manim, whose cairo/pango bindings may need compiling:
# build them here, ship only the virtualenv and the runtime libraries.
FROM python:3.11.13-slim-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential pkg-config libcairo2-dev libpango1.0-dev \
 && rm -rf /var/lib/apt/lists/*
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/scenefarm
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator/ operator/
COPY renderer_image/ renderer_image/
RUN /opt/scenefarm/bin/pip install /src

FROM python:3.11.13-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends libcairo2 libpango-1.0-0 libpangocairo-1.0-0 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 scenefarm \
 && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin scenefarm
COPY --from=build /opt/scenefarm /opt/scenefarm
ENV PATH=/opt/scenefarm/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
# Numeric, so the kubelet can verify runAsNonRoot without reading /etc/passwd.
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["kopf", "run"]
# The chart passes its own arguments; these are the single-Pod, all-namespaces defaults.
CMD ["-m", "scenefarm_operator.handlers", "--standalone", "--all-namespaces", "--liveness=http://0.0.0.0:8080/healthz"]
