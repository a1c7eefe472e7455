package module

import (
	"encoding/json"
	"errors"
	"fmt"
)

// A light JSON object splitter. The item is validated once with json.Valid;
// its objects are then split into raw members without reflection, maps or
// re-validation, which is most of the cost of encoding/json here.

// member is one key/value of a JSON object.
type member struct {
	keyRaw []byte // the key as written, quotes included
	key    string // the decoded key, set when keyRaw has escapes (or on demand)
	esc    bool
	raw    json.RawMessage
	taken  bool
}

// name returns the decoded key.
func (mb *member) name() string {
	if mb.esc || mb.key != "" {
		return mb.key
	}
	s, _ := decodeString(mb.keyRaw)
	mb.key = s
	return s
}

// is reports whether the member's key is k, without allocating.
func (mb *member) is(k string) bool {
	if mb.esc {
		return mb.key == k
	}
	n := len(mb.keyRaw)
	return n == len(k)+2 && string(mb.keyRaw[1:n-1]) == k
}

var errSyntax = errors.New("invalid JSON")

// parseItem validates an item and splits it as an object.
func parseItem(b []byte, arena *[]member) ([]member, error) {
	if !json.Valid(b) {
		var v json.RawMessage
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, err
		}
		return nil, errSyntax
	}
	i := skipWS(b, 0)
	if i >= len(b) {
		return nil, fmt.Errorf("empty input")
	}
	if b[i] != '{' {
		return nil, fmt.Errorf("a JSON %s", kindOf(b[i:]))
	}
	return splitObject(b, arena)
}

// splitObject splits a JSON object known to be valid into its members. The
// members are appended to *arena (when not nil), one allocation serving all
// the objects of an item; the result is capped so that it never overlaps
// what is appended later.
func splitObject(b []byte, arena *[]member) (out []member, err error) {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, errSyntax
	}
	var start int
	if arena != nil {
		if *arena == nil {
			*arena = make([]member, 0, 48)
		}
		start = len(*arena)
		out = (*arena)[start:start]
		defer func() {
			if err == nil {
				*arena = append((*arena)[:start], out...)
				out = (*arena)[start:len(*arena):len(*arena)]
			}
		}()
	} else {
		out = make([]member, 0, 8)
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return out, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return nil, errSyntax
		}
		kEnd, esc := skipString(b, i)
		if kEnd < 0 {
			return nil, errSyntax
		}
		mb := member{keyRaw: b[i:kEnd], esc: esc}
		if esc {
			mb.key, _ = decodeString(mb.keyRaw)
		}
		i = skipWS(b, kEnd)
		if i >= len(b) || b[i] != ':' {
			return nil, errSyntax
		}
		i = skipWS(b, i+1)
		vEnd := skipValue(b, i)
		if vEnd < 0 {
			return nil, errSyntax
		}
		mb.raw = b[i:vEnd]
		out = append(out, mb)
		i = skipWS(b, vEnd)
		if i >= len(b) {
			return nil, errSyntax
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case '}':
			return out, nil
		default:
			return nil, errSyntax
		}
	}
}

// splitArray splits a JSON array known to be valid into its elements.
func splitArray(b []byte) ([]json.RawMessage, error) {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '[' {
		return nil, errSyntax
	}
	var out []json.RawMessage
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == ']' {
		return out, nil
	}
	for {
		end := skipValue(b, i)
		if end < 0 {
			return nil, errSyntax
		}
		out = append(out, b[i:end])
		i = skipWS(b, end)
		if i >= len(b) {
			return nil, errSyntax
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case ']':
			return out, nil
		default:
			return nil, errSyntax
		}
	}
}

func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the index after the string starting at b[i] (a quote)
// and whether it holds escapes; -1 if unterminated.
func skipString(b []byte, i int) (int, bool) {
	esc := false
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			esc = true
			j++
		case '"':
			return j + 1, esc
		}
	}
	return -1, esc
}

// skipValue returns the index after the value starting at b[i]; -1 on error.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		end, _ := skipString(b, i)
		return end
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, _ := skipString(b, j)
				if end < 0 {
					return -1
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	default:
		j := i
		for j < len(b) {
			switch b[j] {
			case ',', '}', ']', ' ', '\t', '\r', '\n':
				return j
			}
			j++
		}
		return j
	}
}
