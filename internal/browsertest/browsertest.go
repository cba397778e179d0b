// Package browsertest opens pages in a real headless Chromium for tests
// (through chromedp) and records what a page did wrong: console errors,
// uncaught exceptions, log entries of level error, and every request it made
// that was not to the page itself; CheckReport checks a page of cutover's
// HTML report in it. It is imported by tests only. A Page is for one
// goroutine.
package browsertest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/cutover-dev/cutover/internal/testtool"
)

// DefaultChromium is where Debian's chromium package installs the browser.
const DefaultChromium = "/usr/bin/chromium"

// Timeout bounds each Page call.
const Timeout = 60 * time.Second

// Chromium returns the browser to use: $CHROMIUM, DefaultChromium, or
// chromium / chromium-browser on the PATH. Without one it skips t, and fails
// it when CI=true (CI installs chromium; see .ci/run).
func Chromium(t testing.TB) string {
	t.Helper()
	for _, p := range []string{os.Getenv("CHROMIUM"), DefaultChromium, "chromium", "chromium-browser"} {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	testtool.Missing(t, "no chromium: the browser tests need a real browser", "apt-get install -y chromium, or set CHROMIUM")
	return ""
}

// Page is one page open in a fresh headless Chromium.
type Page struct {
	t   testing.TB
	ctx context.Context
	url string

	mu       sync.Mutex
	problems []string
	requests []string
}

// Serve serves page at / on a test server on 127.0.0.1, closed when the
// test ends, and returns its URL.
func Serve(t testing.TB, page []byte) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(page)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/"
}

// Open starts a headless Chromium with a fresh profile, loads url and waits
// for selector to be visible. The browser ends with the test.
func Open(t testing.TB, url, selector string) *Page {
	t.Helper()
	path := Chromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	p := &Page{t: t, url: url}
	// The listener sees every event from the tab's start; chromedp enables
	// the Runtime, Log and Network domains on attach.
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithListener(p.listen))
	t.Cleanup(cancel)
	p.ctx = ctx
	// The first action starts the browser, which lives as long as the
	// context it runs with: not one with a timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	if err := p.do(chromedp.Navigate(url), chromedp.WaitVisible(selector)); err != nil {
		t.Fatalf("open %s in chromium: %v", url, err)
	}
	return p
}

func (p *Page) listen(ev any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range ev.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			p.problems = append(p.problems, fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " ")))
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		p.problems = append(p.problems, fmt.Sprintf("exception at %d:%d: %s", d.LineNumber, d.ColumnNumber, msg))
	case *log.EventEntryAdded:
		if ev.Entry.Level == log.EntryLevelError {
			p.problems = append(p.problems, fmt.Sprintf("log %s: %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
		}
	case *network.EventRequestWillBeSent:
		p.requests = append(p.requests, ev.Request.URL)
	}
}

func (p *Page) do(steps ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(p.ctx, Timeout)
	defer cancel()
	return timedOut(chromedp.Do(ctx, steps...))
}

func timedOut(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w after %s", err, Timeout)
	}
	return err
}

// Eval evaluates the JavaScript expression js in p and returns its value,
// decoded from JSON as a T; it fails the test on an error.
func Eval[T any](p *Page, js string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, Timeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		p.t.Fatalf("evaluate %.80q: %v", js, timedOut(err))
	}
	return v
}

// Text is the page's visible text.
func (p *Page) Text() string {
	p.t.Helper()
	return Eval[string](p, "document.body.innerText")
}

// Problems are the console errors, exceptions, error log entries and
// requests to anywhere but the page (or data: URLs) seen so far.
func (p *Page) Problems() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := append([]string(nil), p.problems...)
	for _, u := range p.requests {
		if u != p.url && !strings.HasPrefix(u, "data:") {
			out = append(out, "request to "+u)
		}
	}
	return out
}

// Screenshot is a PNG of the whole page, not only the viewport.
func (p *Page) Screenshot() []byte {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, Timeout)
	defer cancel()
	// Quality 100 asks for a PNG.
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Fatalf("screenshot: %v", timedOut(err))
	}
	return png
}
