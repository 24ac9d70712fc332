package socred

import "time"

// Role is what a token may do.
type Role string

// Roles.
const (
	RoleAdmin     Role = "admin"
	RoleAuthority Role = "authority"
	RoleProvider  Role = "provider"
	RoleReviewer  Role = "reviewer"
	RoleSubject   Role = "subject"
	RoleAuditor   Role = "auditor"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	switch r {
	case RoleAdmin, RoleAuthority, RoleProvider, RoleReviewer, RoleSubject, RoleAuditor:
		return true
	}
	return false
}

// Token is an API credential. Only the SHA-256 of its secret is stored.
type Token struct {
	ID        string    `json:"id"`
	Role      Role      `json:"role"`
	Authority string    `json:"authority,omitempty"` // role authority
	Subject   string    `json:"subject,omitempty"`   // role subject
	Actions   []string  `json:"actions,omitempty"`   // role provider: the actions it may check; empty = all
	Name      string    `json:"name"`
	Hash      []byte    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
	// RevokedAt is when the admin revoked the token, which then
	// authenticates no one.
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// TokenRevocation revokes a token from a moment on.
type TokenRevocation struct {
	ID string
	At time.Time
}

// Session is a browser signed in to the web pages with a token. Its
// cookie holds a secret that only the browser knows; the store keeps its
// hash, so a copy of the database signs no one in.
type Session struct {
	Hash      []byte // SHA-256 of the cookie's secret
	TokenHash []byte // the hash of the token signed in with (the admin's included)
	CSRF      string // the anti-forgery token every form of the session carries
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Caller is who makes a request: a token, or the admin from the
// environment, or nobody (public endpoints).
type Caller struct {
	Token *Token
}

// Role returns the caller's role, or "" for an anonymous caller.
func (c *Caller) Role() Role {
	if c == nil || c.Token == nil {
		return ""
	}
	return c.Token.Role
}

// Is reports whether the caller has one of the roles.
func (c *Caller) Is(roles ...Role) bool {
	r := c.Role()
	for _, x := range roles {
		if r == x && r != "" {
			return true
		}
	}
	return false
}

// Name returns how the caller appears in a subject's file.
func (c *Caller) Name() string {
	if c == nil || c.Token == nil {
		return "public"
	}
	if c.Token.Name != "" {
		return c.Token.Name
	}
	return string(c.Token.Role)
}
