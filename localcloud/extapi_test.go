package localcloud

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/localcloud/clock"
	"go.uber.org/goleak"
)

func TestExternalAPIAnswersAfterLatency(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	clk := clock.NewScaled(10, nil)
	api, err := StartExternalAPI(context.Background(), 2*time.Second, clk) // 200 ms wall
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := api.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	const requests = 5
	var wg sync.WaitGroup
	for range requests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := clk.Now()
			resp, err := client.Get(api.URL() + "/v1/anything")
			if err != nil {
				t.Errorf("get: %v", err)
				return
			}
			defer resp.Body.Close()
			if took := clk.Simulated(clk.Now().Sub(start)); took < 2*time.Second {
				t.Errorf("answered after %v simulated, want ≥ 2s", took)
			}
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			var body struct{ OK bool }
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || !body.OK {
				t.Errorf("body: %+v, %v", body, err)
			}
		}()
	}
	wg.Wait()
	if got := api.Served(); got != requests {
		t.Errorf("served = %d, want %d", got, requests)
	}
	if want := "http://" + api.Addr(); api.URL() != want {
		t.Errorf("URL() = %q, want %q", api.URL(), want)
	}
}

// Close ends requests still waiting out their latency and returns once
// their handlers have finished.
func TestExternalAPICloseEndsWaitingRequests(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	clk := clock.NewScaled(1, nil)
	api, err := StartExternalAPI(context.Background(), time.Hour, clk)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	done := make(chan error, 1)
	wrote := make(chan struct{})
	go func() {
		ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
			WroteRequest: func(httptrace.WroteRequestInfo) { close(wrote) },
		})
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, api.URL(), nil)
		if err != nil {
			done <- err
			return
		}
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			err = errors.New("got a response")
		}
		done <- err
	}()
	// Once the request is written the server is about to wait out the hour;
	// if Close wins the race to the handler, the request fails all the same.
	select {
	case <-wrote:
	case err := <-done:
		t.Fatalf("request ended before it was written: %v", err)
	}
	if err := api.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	limit := time.NewTimer(10 * time.Second)
	defer limit.Stop()
	select {
	case err := <-done:
		if err == nil {
			t.Error("request succeeded after Close")
		}
	case <-limit.C:
		t.Fatal("request still waiting after Close")
	}
	if got := api.Served(); got != 0 {
		t.Errorf("served = %d, want 0", got)
	}
	if err := api.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
}
