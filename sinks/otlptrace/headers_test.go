package otlptrace

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/weirdev/weir/internal/testenv"
)

// TestHeaderFilesReadEachExport: a header's value comes from its file at
// every export, so that a rotated token is sent at once.
func TestHeaderFilesReadEachExport(t *testing.T) {
	file := filepath.Join(t.TempDir(), "auth")
	if err := os.WriteFile(file, []byte("Bearer tok-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := &traceServer{}
	e := newExporter(t, srv.start(t), WithHeaders(map[string]string{"x-scope-orgid": "acme"}),
		WithHeaderFiles(map[string]string{"Authorization": file}))
	bg := context.Background()
	if err := e.Export(bg, testTraces(1)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte("Bearer tok-2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := e.Export(bg, testTraces(1)); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, md := range srv.md {
		got = append(got, strings.Join(md.Get("authorization"), ",")+" "+strings.Join(md.Get("x-scope-orgid"), ","))
	}
	if want := []string{"Bearer tok-1 acme", "Bearer tok-2 acme"}; !slices.Equal(got, want) {
		t.Errorf("server saw %q, want %q", got, want)
	}
}

// TestHeaderFileMissingRetried: an unreadable header file fails the attempt,
// which is retried (the file may be being rotated) until ctx ends.
func TestHeaderFileMissingRetried(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "auth")
	srv := &traceServer{}
	e := newExporter(t, srv.start(t), WithHeaderFiles(map[string]string{"authorization": missing}))
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for testutil.ToFloat64(e.m.retries) < 2 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	err := e.Export(ctx, testTraces(1))
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), missing) {
		t.Errorf("export with a missing header file: %v, want retries until cancelled, naming the file", err)
	}
	if n := len(srv.requests()); n != 0 {
		t.Errorf("server got %d requests without the header, want 0", n)
	}
}

// TestNoSecretInLogsOrErrors seeds secrets in header values, given and from
// files, drives the exporter's error paths (bad values, a server refusing or
// failing with messages that echo the request's metadata, a dead endpoint,
// giving up at Close) and fails if a secret shows in a log line or an error.
func TestNoSecretInLogsOrErrors(t *testing.T) {
	secrets := []string{"hdr-SECRET-val", "file-SECRET-tok"}
	logs := &testenv.LogBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var errs []string
	note := func(err error) {
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(good, []byte("Bearer file-SECRET-tok"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("file-SECRET-tok\x01"), 0o600); err != nil {
		t.Fatal(err)
	}
	headers := map[string]string{"x-api-key": "hdr-SECRET-val"}

	_, err := New("h:4317", WithInsecure(), WithHeaders(map[string]string{"x-api-key": "hdr-SECRET-val\n"}))
	note(err)

	echo := func(code codes.Code) *traceServer {
		return &traceServer{respond: func(ctx context.Context, n int) (ptraceotlp.ExportResponse, error) {
			if n >= 2 {
				return ptraceotlp.NewExportResponse(), nil
			}
			md, _ := metadata.FromIncomingContext(ctx)
			return ptraceotlp.NewExportResponse(), status.Errorf(code, "refused %v %v", md.Get("authorization"), md.Get("x-api-key"))
		}}
	}
	for _, code := range []codes.Code{codes.Unauthenticated, codes.PermissionDenied, codes.InvalidArgument, codes.Unavailable, codes.ResourceExhausted, codes.Internal} {
		for _, files := range []map[string]string{{"authorization": good}, {"authorization": bad}} {
			e, err := New(echo(code).start(t), WithInsecure(), WithLogger(logger), WithBackoff(time.Millisecond, 5*time.Millisecond),
				WithHeaders(headers), WithHeaderFiles(files))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			note(e.Export(ctx, testTraces(1)))
			cancel()
			note(e.Enqueue(context.Background(), testTraces(1)))
			done, stop := context.WithCancel(context.Background())
			stop()
			note(e.Close(done))
		}
	}

	out := logs.String() + strings.Join(errs, "\n")
	if !strings.Contains(out, "refused") || !strings.Contains(out, "retrying") || !strings.Contains(out, "not printable") {
		t.Fatalf("the test did not reach the refusal, retry and bad-value paths; output:\n%s", out)
	}
	for _, s := range secrets {
		if i := strings.Index(out, s); i >= 0 {
			lo, hi := max(i-200, 0), min(i+len(s)+50, len(out))
			t.Errorf("secret %q printed: ...%s...", s, out[lo:hi])
		}
	}
}
