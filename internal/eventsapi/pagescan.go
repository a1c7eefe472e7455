package eventsapi

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// This file decodes a page body in one strict pass: encoding/json scans a
// body twice (validation, then decoding) with a byte-at-a-time state machine
// and copies every item, which cost as much CPU per event as mapping it.
//
// decodePageFast accepts only the plain shape every real response has
// (an object with ASCII keys; cursor a string, has_more a bool, items an
// array, each or null) and gives up on anything else, so that decodePage
// falls back to encoding/json for the rare odd body and every error message
// stays as it was. On what it accepts it returns exactly what encoding/json
// would (FuzzDecodePageFast checks that); its items are sub-slices of body.

// maxNesting is encoding/json's nesting limit.
const maxNesting = 10000

// decodePageFast decodes body when it has the plain shape; ok is false when
// the caller must decode it with encoding/json instead (including every
// invalid body).
func decodePageFast(body []byte) (page *Page, ok bool) {
	i := skipSpace(body, 0)
	if i >= len(body) || body[i] != '{' {
		return nil, false
	}
	var (
		cursor    []byte // raw string token, nil when absent or null
		hasMore   bool
		items     []json.RawMessage
		itemsNull bool
	)
	i = skipSpace(body, i+1)
	if i < len(body) && body[i] == '}' {
		i++
	} else {
		for {
			if i >= len(body) || body[i] != '"' {
				return nil, false
			}
			keyEnd, plain := scanString(body, i)
			if keyEnd < 0 || !plain || !isASCII(body[i+1:keyEnd-1]) {
				// Escaped or non-ASCII keys can fold onto our field names
				// in ways only encoding/json gets right.
				return nil, false
			}
			key := body[i+1 : keyEnd-1]
			i = skipSpace(body, keyEnd)
			if i >= len(body) || body[i] != ':' {
				return nil, false
			}
			i = skipSpace(body, i+1)
			switch {
			case equalFoldASCII(key, "cursor"):
				switch {
				case hasPrefix(body, i, "null"):
					cursor, i = nil, i+4
				case i < len(body) && body[i] == '"':
					end, _ := scanString(body, i)
					if end < 0 {
						return nil, false
					}
					cursor, i = body[i:end], end
				default:
					return nil, false
				}
			case equalFoldASCII(key, "has_more"):
				switch {
				case hasPrefix(body, i, "true"):
					hasMore, i = true, i+4
				case hasPrefix(body, i, "false"):
					hasMore, i = false, i+5
				case hasPrefix(body, i, "null"):
					i += 4 // null leaves a bool as it was
				default:
					return nil, false
				}
			case equalFoldASCII(key, "items"):
				switch {
				case hasPrefix(body, i, "null"):
					items, itemsNull, i = nil, true, i+4
				case i < len(body) && body[i] == '[':
					var end int
					items, end = scanItems(body, i, items[:0])
					if end < 0 {
						return nil, false
					}
					itemsNull, i = false, end
				default:
					return nil, false
				}
			default:
				if i = skipValueStrict(body, i, 2); i < 0 {
					return nil, false
				}
			}
			i = skipSpace(body, i)
			if i >= len(body) {
				return nil, false
			}
			if body[i] == '}' {
				i++
				break
			}
			if body[i] != ',' {
				return nil, false
			}
			i = skipSpace(body, i+1)
		}
	}
	if skipSpace(body, i) != len(body) || cursor == nil {
		return nil, false
	}
	c, ok := stringValue(cursor)
	if !ok || c == "" {
		return nil, false
	}
	if items == nil || itemsNull {
		items = []json.RawMessage{}
	}
	return &Page{Cursor: c, HasMore: hasMore, Items: items}, true
}

// scanItems appends the elements of the array at body[i] to out and returns
// the index after the array; -1 if it is not valid JSON.
func scanItems(body []byte, i int, out []json.RawMessage) ([]json.RawMessage, int) {
	end := scanArray(body, i, 2, func(elem []byte) { out = append(out, elem) })
	return out, end
}

// scanArray returns the index after the array at body[i], at nesting level
// depth, or -1 if it is not valid JSON; each, when not nil, gets every
// element (capacity capped, so appending to one cannot write into body).
func scanArray(body []byte, i, depth int, each func(elem []byte)) int {
	if depth > maxNesting {
		return -1
	}
	i = skipSpace(body, i+1)
	if i < len(body) && body[i] == ']' {
		return i + 1
	}
	for {
		start := i
		if i = skipValueStrict(body, i, depth+1); i < 0 {
			return -1
		}
		if each != nil {
			each(body[start:i:i])
		}
		i = skipSpace(body, i)
		if i >= len(body) {
			return -1
		}
		switch body[i] {
		case ',':
			i = skipSpace(body, i+1)
		case ']':
			return i + 1
		default:
			return -1
		}
	}
}

// stringValue returns the string a raw JSON string token holds, exactly as
// encoding/json decodes it.
func stringValue(raw []byte) (string, bool) {
	// Escapes and invalid UTF-8 (which encoding/json replaces) are rare:
	// leave them to encoding/json.
	if inner := raw[1 : len(raw)-1]; bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner), true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// skipValueStrict returns the index after the JSON value at body[i], or -1
// if it is not valid JSON (RFC 8259, as encoding/json.Valid judges it).
// depth is the nesting level the value has if it is an object or array
// (the body's top level is 1).
func skipValueStrict(body []byte, i, depth int) int {
	if i >= len(body) {
		return -1
	}
	switch c := body[i]; {
	case c == '"':
		end, _ := scanString(body, i)
		return end
	case c == '{':
		if depth > maxNesting {
			return -1
		}
		i = skipSpace(body, i+1)
		if i < len(body) && body[i] == '}' {
			return i + 1
		}
		for {
			if i >= len(body) || body[i] != '"' {
				return -1
			}
			if i, _ = scanString(body, i); i < 0 {
				return -1
			}
			i = skipSpace(body, i)
			if i >= len(body) || body[i] != ':' {
				return -1
			}
			if i = skipValueStrict(body, skipSpace(body, i+1), depth+1); i < 0 {
				return -1
			}
			i = skipSpace(body, i)
			if i >= len(body) {
				return -1
			}
			switch body[i] {
			case ',':
				i = skipSpace(body, i+1)
			case '}':
				return i + 1
			default:
				return -1
			}
		}
	case c == '[':
		return scanArray(body, i, depth, nil)
	case c == '-' || c >= '0' && c <= '9':
		return scanNumber(body, i)
	case c == 't' && hasPrefix(body, i, "true"):
		return i + 4
	case c == 'f' && hasPrefix(body, i, "false"):
		return i + 5
	case c == 'n' && hasPrefix(body, i, "null"):
		return i + 4
	}
	return -1
}

// scanString returns the index after the string token at body[i] (a quote)
// and whether it has no escapes; -1 if it is not a valid JSON string.
func scanString(body []byte, i int) (end int, plain bool) {
	plain = true
	for j := i + 1; j < len(body); j++ {
		switch c := body[j]; {
		case c == '"':
			return j + 1, plain
		case c < 0x20:
			return -1, false
		case c == '\\':
			plain = false
			j++
			if j >= len(body) {
				return -1, false
			}
			switch body[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(body) || !isHex(body[j+1]) || !isHex(body[j+2]) || !isHex(body[j+3]) || !isHex(body[j+4]) {
					return -1, false
				}
				j += 4
			default:
				return -1, false
			}
		}
	}
	return -1, false
}

// scanNumber returns the index after the number at body[i]; -1 if it is not
// a valid JSON number.
func scanNumber(body []byte, i int) int {
	if body[i] == '-' {
		i++
	}
	switch {
	case i >= len(body):
		return -1
	case body[i] == '0':
		i++
	case body[i] >= '1' && body[i] <= '9':
		for i++; i < len(body) && isDigit(body[i]); i++ {
		}
	default:
		return -1
	}
	if i < len(body) && body[i] == '.' {
		i++
		if i >= len(body) || !isDigit(body[i]) {
			return -1
		}
		for i++; i < len(body) && isDigit(body[i]); i++ {
		}
	}
	if i < len(body) && (body[i] == 'e' || body[i] == 'E') {
		i++
		if i < len(body) && (body[i] == '+' || body[i] == '-') {
			i++
		}
		if i >= len(body) || !isDigit(body[i]) {
			return -1
		}
		for i++; i < len(body) && isDigit(body[i]); i++ {
		}
	}
	return i
}

func skipSpace(body []byte, i int) int {
	for i < len(body) {
		switch body[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

func hasPrefix(body []byte, i int, lit string) bool {
	return len(body)-i >= len(lit) && string(body[i:i+len(lit)]) == lit
}

// equalFoldASCII reports whether the ASCII key equals name ignoring case.
func equalFoldASCII(key []byte, name string) bool {
	if len(key) != len(name) {
		return false
	}
	for i := range key {
		c := key[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != name[i] {
			return false
		}
	}
	return true
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
