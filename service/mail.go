package service

import (
	"context"
	"crypto/tls"
	"fmt"
	"mime"
	"net"
	"net/smtp"
	"strings"
	"time"

	"github.com/socred/socred"
)

// Mailer delivers notices by e-mail, over SMTP, to the address the subject
// gave (see SetContact). A subject without one gets no e-mail. Each message
// carries the notice's idempotency key in its Message-ID, so a message sent
// again after a failure or a restart is recognisably the same.
type Mailer struct {
	// Addr is the SMTP server, host:port.
	Addr string
	// From is the sender's address.
	From  string
	Store socred.Store
}

func (m *Mailer) Name() string { return "e-mail" }

func (m *Mailer) Deliver(ctx context.Context, n *socred.Notice) error {
	ct, err := m.Store.Contact(ctx, n.Subject)
	if socred.ErrorCode(err) == socred.ENOTFOUND || (err == nil && ct.Email == "") {
		return nil
	}
	if err != nil {
		return err
	}
	var b strings.Builder
	host := m.From[strings.LastIndexByte(m.From, '@')+1:]
	fmt.Fprintf(&b, "From: socred <%s>\r\n", m.From)
	fmt.Fprintf(&b, "To: <%s>\r\n", ct.Email)
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", "socred notice: "+strings.ReplaceAll(string(n.Kind), "-", " ")))
	fmt.Fprintf(&b, "Date: %s\r\n", n.At.UTC().Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s@%s>\r\n", n.IdempotencyKey(), host)
	fmt.Fprintf(&b, "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	fmt.Fprintf(&b, "%s\r\n\r\nYou can read your whole file, and appeal, at socred: GET /v1/subjects/%s/file.\r\n", n.Message, n.Subject)
	return sendMail(ctx, m.Addr, m.From, ct.Email, []byte(b.String()))
}

// sendMail sends one message, within a minute, using STARTTLS when the
// server offers it.
func sendMail(ctx context.Context, addr, from, to string, msg []byte) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	deadline, _ := ctx.Deadline()
	if err := conn.SetDeadline(deadline); err != nil {
		conn.Close() // #nosec G104 -- already failing; closing only frees the socket
		return err
	}
	host, _, _ := net.SplitHostPort(addr)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close() // #nosec G104 -- already failing; closing only frees the socket
		return err
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(&tls.Config{ServerName: host}); err != nil {
			return err
		}
	}
	if err := c.Mail(from); err != nil {
		return err
	}
	if err := c.Rcpt(to); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}
