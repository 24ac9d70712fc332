package service_test

import (
	"io"
	"net"
	"net/mail"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/socred/socred"
	"github.com/socred/socred/pack"
	"github.com/socred/socred/packs"
	"github.com/socred/socred/service"
	"github.com/socred/socred/sqlite"
)

// mailbox is an SMTP server's backend that keeps the messages it accepts,
// by Message-ID, and refuses every recipient while refusing is set.
type mailbox struct {
	mu       sync.Mutex
	msgs     map[string]*mail.Message
	bodies   map[string]string
	to       map[string]string
	refusing bool
}

func (m *mailbox) NewSession(*smtp.Conn) (smtp.Session, error) { return &mailSession{box: m}, nil }

type mailSession struct {
	box *mailbox
	to  string
}

func (s *mailSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.box.mu.Lock()
	defer s.box.mu.Unlock()
	if s.box.refusing {
		return &smtp.SMTPError{Code: 451, Message: "try again later"}
	}
	s.to = to
	return nil
}
func (s *mailSession) Data(r io.Reader) error {
	msg, err := mail.ReadMessage(r)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(msg.Body)
	s.box.mu.Lock()
	defer s.box.mu.Unlock()
	id := msg.Header.Get("Message-ID")
	s.box.msgs[id], s.box.bodies[id], s.box.to[id] = msg, string(body), s.to
	return nil
}
func (s *mailSession) Reset()        {}
func (s *mailSession) Logout() error { return nil }

func (m *mailbox) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.msgs)
}

// startSMTP runs a real SMTP server on a loopback port.
func startSMTP(t *testing.T, box *mailbox) string {
	t.Helper()
	srv := smtp.NewServer(box)
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func openWithMail(t *testing.T, path, addr string, c *clock) (*service.Service, *sqlite.Store) {
	t.Helper()
	p, _, err := pack.Load(packs.Example)
	if err != nil {
		t.Fatal(err)
	}
	store, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := service.New(store, p)
	if err != nil {
		t.Fatal(err)
	}
	svc.Now = c.Now
	svc.Channels = []service.Channel{&service.Mailer{Addr: addr, From: "notices@socred.example", Store: store}}
	if err := svc.Open(ctx); err != nil {
		t.Fatal(err)
	}
	return svc, store
}

// Notices go by e-mail to subjects who gave an address, through a real SMTP
// server: retried while it refuses, sent again after a restart only as the
// same message (by Message-ID), and not at all to subjects without one.
func TestNoticesByEmail(t *testing.T) {
	box := &mailbox{msgs: map[string]*mail.Message{}, bodies: map[string]string{}, to: map[string]string{}, refusing: true}
	addr := startSMTP(t, box)
	path := filepath.Join(t.TempDir(), "socred.db")
	c := &clock{t: t0}
	svc, store := openWithMail(t, path, addr, c)
	setup(t, svc)
	subject := &socred.Caller{Token: &socred.Token{ID: "s", Role: socred.RoleSubject, Subject: "wang", Name: "wang"}}
	if err := svc.SetContact(ctx, subject, socred.Contact{Subject: "wang", Email: "wang@example.cn"}); err != nil {
		t.Fatal(err)
	}
	if err := svc.SetContact(ctx, subject, socred.Contact{Subject: "zhao", Email: "x@example.cn"}); socred.ErrorCode(err) != socred.EFORBIDDEN {
		t.Errorf("wang setting zhao's contact: got %v, want forbidden", err)
	}
	if err := svc.SetContact(ctx, admin, socred.Contact{Subject: "zhao", Email: "Zhao <zhao@example.cn>"}); socred.ErrorCode(err) != socred.EINVALID {
		t.Errorf("an address with a name: got %v, want invalid", err)
	}
	for i, subj := range []string{"wang", "zhao"} {
		in := []socred.RecordInput{{Key: "litter-" + subj, Subject: subj, Scheme: "rongcheng", Rule: "littering", OccurredAt: t0}}
		if _, err := svc.SubmitRecords(ctx, admin, in); err != nil {
			t.Fatal(i, err)
		}
	}
	time.Sleep(300 * time.Millisecond)
	if n := box.count(); n != 0 {
		t.Fatalf("a refusing server accepted %d messages", n)
	}
	closeAll(t, svc, store)
	box.mu.Lock()
	box.refusing = false
	box.mu.Unlock()
	svc, store = openWithMail(t, path, addr, c)
	defer closeAll(t, svc, store)
	for deadline := time.Now().Add(5 * time.Second); box.count() < 1 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	wangs, err := store.Notices(ctx, "wang", socred.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if box.count() != len(wangs) {
		t.Fatalf("got %d messages, want one for each of wang's %d notices and none for zhao", box.count(), len(wangs))
	}
	for _, n := range wangs {
		id := "<" + n.IdempotencyKey() + "@socred.example>"
		msg := box.msgs[id]
		if msg == nil {
			t.Errorf("no message %s", id)
			continue
		}
		if box.to[id] != "wang@example.cn" || !strings.Contains(box.bodies[id], n.Message) || !strings.Contains(msg.Header.Get("Subject"), "socred notice") {
			t.Errorf("message %s to %s: %v\n%s", id, box.to[id], msg.Header, box.bodies[id])
		}
	}
}
