# syntax=docker/dockerfile:1
# weir's image: docker build -t weir .   (docker-compose.yml builds it too)
#
# The build stage compiles the one binary with the Go toolchain the module
# names; the final image holds that static binary and the example configs.

FROM golang:1.26-bookworm AS build
WORKDIR /src
ENV GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags="-s -w" -o /out/weir ./cmd/weir

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/weir /usr/local/bin/weir
COPY configs /etc/weir
WORKDIR /etc/weir
USER nonroot:nonroot
# One port: /metrics, /-/healthy, /-/ready, the query and trace APIs, the UI.
EXPOSE 9464
ENTRYPOINT ["/usr/local/bin/weir"]
CMD ["run", "-config", "/etc/weir/weir.yaml"]
