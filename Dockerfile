# primaryd and primaryctl in a small image. Build: docker build -t primaryvote .
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/ ./cmd/... && mkdir /out/secrets /out/witness

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/primaryd /out/primaryctl /usr/local/bin/
# The secrets volume starts as this directory, writable by the image's user.
COPY --from=build --chown=65532:65532 /out/secrets /secrets
# So does a camp's witness volume (docker-compose.yml, profile witnesses).
COPY --from=build --chown=65532:65532 /out/witness /witness
USER nonroot
ENV PRIMARYVOTE_ADDR=0.0.0.0:8080 PRIMARYVOTE_SECRETS=/secrets
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/primaryd"]
