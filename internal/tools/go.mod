module github.com/otelcol-lightning/otelcol-lightning/internal/tools

go 1.26.0
