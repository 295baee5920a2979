# Single-stage build: the whole Go toolchain ships in the final image (~1 GB).
FROM golang:1.21

WORKDIR /app

COPY go.mod go.sum ./
RUN go mod download

COPY . .
RUN go build -o server .

EXPOSE 8080

CMD ["./server"]
