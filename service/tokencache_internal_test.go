package service

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/socred/socred"
)

// gatedTokens counts the store's reads of tokens and holds each read
// begun while gate was set, once made, until the gate is closed.
type gatedTokens struct {
	socred.Store
	reads atomic.Int32
	mu    sync.Mutex
	gate  chan struct{}
}

func (g *gatedTokens) TokenByHash(ctx context.Context, h []byte) (*socred.Token, error) {
	g.mu.Lock()
	gate := g.gate
	g.mu.Unlock()
	g.reads.Add(1)
	t, err := g.Store.TokenByHash(ctx, h)
	if gate != nil {
		<-gate
	}
	return t, err
}

func (g *gatedTokens) hold() chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.gate = make(chan struct{})
	return g.gate
}

// gatedProvider opens a service on a gatedTokens store, makes a
// provider's token, authenticates it once so that it is cached, lets the
// cache expire and starts the count of reads from nought.
func gatedProvider(t *testing.T) (*Service, *socred.Caller, *gatedTokens, NewToken) {
	t.Helper()
	store := &gatedTokens{}
	svc, admin := ingestService(t, func(s socred.Store) socred.Store { store.Store = s; return store })
	tok, err := svc.CreateToken(context.Background(), admin, TokenInput{Role: socred.RoleProvider, Name: "till"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(context.Background(), tok.Token); err != nil {
		t.Fatal(err)
	}
	time.Sleep(TokenCacheTTL + 10*time.Millisecond)
	store.reads.Store(0)
	return svc, admin, store, tok
}

// The requests that find a token's cached copy expired together share one
// read of it: under load, every connection's next request misses at once.
func TestTokenReadOnceForRequestsThatMissTogether(t *testing.T) {
	svc, _, store, tok := gatedProvider(t)
	gate := store.hold()
	const requests = 32
	var wg sync.WaitGroup
	errs := make(chan error, requests)
	for range requests {
		wg.Go(func() {
			_, err := svc.Authenticate(context.Background(), tok.Token)
			errs <- err
		})
	}
	// Requests that come after the read ends find it cached; those that
	// come before share it. Either way the store is read once.
	time.Sleep(200 * time.Millisecond)
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := store.reads.Load(); n != 1 {
		t.Errorf("%d requests read the token %d times, want once", requests, n)
	}
}

// A read of a token made before the token was revoked at this server, and
// ending after, is neither cached nor shared: the revocation holds for
// every request that comes after it.
func TestTokenReadBeforeRevocationIsNotKept(t *testing.T) {
	svc, admin, store, tok := gatedProvider(t)
	gate := store.hold()
	before := make(chan error, 1)
	go func() {
		_, err := svc.Authenticate(context.Background(), tok.Token)
		before <- err
	}()
	for store.reads.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	store.mu.Lock()
	store.gate = nil // the revocation's own reads, and those after it, pass
	store.mu.Unlock()
	if _, err := svc.RevokeToken(context.Background(), admin, tok.ID); err != nil {
		t.Fatal(err)
	}
	// While the read begun before is held, a request does not share it
	// (one that did would wait for it, and time out).
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := svc.Authenticate(ctx, tok.Token); socred.ErrorCode(err) != socred.EUNAUTHORIZED {
		t.Errorf("after the revocation, the read before it held: got %v, want unauthorized", err)
	}
	close(gate)
	if err := <-before; err != nil {
		t.Fatalf("the request begun before the revocation: %v", err)
	}
	// Nor is what it read kept.
	if _, err := svc.Authenticate(context.Background(), tok.Token); socred.ErrorCode(err) != socred.EUNAUTHORIZED {
		t.Errorf("after the revocation and the read before it: got %v, want unauthorized", err)
	}
}
