package api_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/socred/socred/api"
	"github.com/socred/socred/service"
)

// BenchmarkCheck measures a provider's check through the whole handler,
// over a store in memory: the CPU and allocations a check costs besides
// the store's.
func BenchmarkCheck(b *testing.B) {
	svc, err := service.New(newFakeStore(), testPack())
	if err != nil {
		b.Fatal(err)
	}
	svc.AdminToken = adminToken
	if err := svc.Open(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer svc.Close(context.Background()) // #nosec G104 -- a benchmark's service
	h := api.New(svc, api.Config{Logger: slog.New(slog.DiscardHandler)}).Handler()
	call := func(method, path, token, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	if rec := call("PUT", "/v1/subjects/zhang", adminToken, `{"kind":"person","name":"Zhang Wei","region":"rongcheng"}`); rec.Code != http.StatusCreated {
		b.Fatal(rec.Code, rec.Body)
	}
	rec := call("POST", "/v1/tokens", adminToken, `{"role":"provider","name":"railway booking"}`)
	var tok service.NewToken
	if err := json.Unmarshal(rec.Body.Bytes(), &tok); err != nil || rec.Code != http.StatusCreated {
		b.Fatal(rec.Code, rec.Body)
	}
	const body = `{"subject":"zhang","action":"ride-train","purpose":"ticket G1234"}`
	b.ReportAllocs()
	b.SetParallelism(32) // checks wait for the journal's group commit
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if rec := call("POST", "/v1/checks", tok.Token, body); rec.Code != http.StatusOK {
				b.Error(rec.Code, rec.Body)
				return
			}
		}
	})
}
