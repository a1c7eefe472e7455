package simulator

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
)

// cursorB64 rejects non-canonical encodings so one state has one spelling.
var cursorB64 = base64.RawURLEncoding.Strict()

// cursorState is what a cursor carries.
type cursorState struct {
	kind   int
	pos    int64 // index of the next event to serve
	limit  int
	hasEnd bool
	end    int64 // UnixNano, inclusive upper bound when hasEnd
}

const (
	cursorFormat   = 1
	cursorStateLen = 21 // format, kind, flags, limit(2), pos(8), end(8)
	cursorMACLen   = 16
	cursorLen      = cursorStateLen + cursorMACLen
)

var errBadCursor = errors.New("bad cursor")

func (s *Server) encodeCursor(c cursorState) string {
	var b [cursorLen]byte
	b[0] = cursorFormat
	b[1] = byte(c.kind)
	if c.hasEnd {
		b[2] = 1
	}
	binary.BigEndian.PutUint16(b[3:5], uint16(c.limit))
	binary.BigEndian.PutUint64(b[5:13], uint64(c.pos))
	binary.BigEndian.PutUint64(b[13:21], uint64(c.end))
	m := hmac.New(sha256.New, s.cursorKey)
	m.Write(b[:cursorStateLen])
	copy(b[cursorStateLen:], m.Sum(nil)[:cursorMACLen])
	return cursorB64.EncodeToString(b[:])
}

// decodeCursor authenticates and decodes a cursor for the given kind.
func (s *Server) decodeCursor(str string, kind int) (cursorState, error) {
	if len(str) != cursorB64.EncodedLen(cursorLen) {
		return cursorState{}, errBadCursor
	}
	b, err := cursorB64.DecodeString(str)
	if err != nil || len(b) != cursorLen {
		return cursorState{}, errBadCursor
	}
	m := hmac.New(sha256.New, s.cursorKey)
	m.Write(b[:cursorStateLen])
	if !hmac.Equal(m.Sum(nil)[:cursorMACLen], b[cursorStateLen:]) {
		return cursorState{}, errBadCursor
	}
	c := cursorState{
		kind:   int(b[1]),
		hasEnd: b[2]&1 != 0,
		limit:  int(binary.BigEndian.Uint16(b[3:5])),
		pos:    int64(binary.BigEndian.Uint64(b[5:13])),
		end:    int64(binary.BigEndian.Uint64(b[13:21])),
	}
	if b[0] != cursorFormat || b[2]&^1 != 0 || c.kind != kind || c.limit < 1 || c.limit > MaxLimit || c.pos < 0 {
		return cursorState{}, errBadCursor
	}
	return c, nil
}
