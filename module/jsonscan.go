package module

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"
)

// A light JSON reader, made for mapping one API item quickly. The reader
// validates the item with the grammar of encoding/json (json.Valid) and, in
// the same pass, splits the top-level object, and every object nested in it
// through object members, into fields, without reflection or maps. A field
// locates its key and value by offsets in the item: the reader's scratch
// holds no pointers, so the garbage collector neither scans it nor needs
// write barriers for it, and it needs no clearing between items. An
// object's fields are contiguous in one arena that serves the whole item.
// Objects inside arrays (unknown fields only) are split on demand.

// field is one key/value of an object of the item.
type field struct {
	koff, kend int32 // the key as written, quotes included: item[koff:kend]
	voff, vend int32 // the value: item[voff:vend]
	// sub and n locate the fields of an object value in the arena when
	// the reader split it (n >= 0); n is -1 otherwise.
	sub, n int32
	key    int32  // the decoded key in reader.keys; -1: item[koff+1:kend-1] as is
	tag    uint32 // keyTag of the decoded key, to find it quickly
	flags  uint8  // of a string value: strEsc, strHigh
	dup    bool   // of a split object value: two of its keys may be the same
	taken  bool
}

// Flags of a string value.
const (
	strEsc  = 1 << iota // holds a backslash escape
	strHigh             // holds bytes >= 0x80 (UTF-8 to check)
)

// keyTag sums up a key for a quick comparison: its length and its first
// and last bytes.
func keyTag(k string) uint32 {
	if k == "" {
		return 0
	}
	return uint32(len(k))<<16 | uint32(k[0])<<8 | uint32(k[len(k)-1])
}

// member is one key/value of a JSON object split by splitObject.
type member struct {
	keyRaw []byte // the key as written, quotes included
	key    string // the decoded key, when hasKey (else decoded on demand)
	hasKey bool
	raw    json.RawMessage
}

// name returns the decoded key.
func (mb *member) name() string {
	if !mb.hasKey {
		mb.key, _ = decodeString(mb.keyRaw)
		mb.hasKey = true
	}
	return mb.key
}

var errSyntax = errors.New("invalid JSON")

// maxDepth is encoding/json's limit of nested arrays and objects.
const maxDepth = 10000

// reader is the scratch state of the reader, reused from item to item (see
// Mapping).
type reader struct {
	arena []field  // fields of split objects, each object's contiguous
	pend  []field  // fields of the objects being read
	stack []frame  // open arrays and objects
	keys  []string // decoded keys (escapes, invalid UTF-8)
}

type frame struct {
	obj   bool   // object (else array)
	split bool   // an object whose fields are recorded
	dup   bool   // two of its keys may be the same
	start int32  // where it starts in the item
	first int32  // its first field in pend
	owner int32  // the field of pend whose value this is, or -1
	keys  uint64 // a bloom filter of its keys' tags, to set dup
}

// reset empties r for the next item.
func (r *reader) reset() {
	clear(r.keys)
	r.arena, r.pend, r.stack, r.keys = r.arena[:0], r.pend[:0], r.stack[:0], r.keys[:0]
}

// keyOf returns the decoded key of f, a field of item.
func (r *reader) keyOf(item string, f *field) string {
	if f.key < 0 {
		return item[f.koff+1 : f.kend-1]
	}
	return r.keys[f.key]
}

// parseItem validates an item and splits it as an object, for tests: the
// members are appended to *arena.
func parseItem(b []byte, arena *[]member) ([]member, error) {
	var r reader
	kv, _, err := r.parse(b)
	if err != nil {
		return nil, err
	}
	start := len(*arena)
	for i := range kv {
		f := &kv[i]
		mb := member{keyRaw: b[f.koff:f.kend], raw: b[f.voff:f.vend]}
		if f.key >= 0 {
			mb.key, mb.hasKey = r.keys[f.key], true
		}
		*arena = append(*arena, mb)
	}
	return (*arena)[start:len(*arena):len(*arena)], nil
}

// parse validates b and splits it as an object; dup is false when the
// object's keys are known to be distinct.
func (r *reader) parse(b []byte) (kv []field, dup bool, err error) {
	if len(b) > maxItem {
		return nil, true, fmt.Errorf("an item of %d bytes, too large", len(b))
	}
	if r.arena == nil {
		r.arena = make([]field, 0, 48)
	}
	root, ok := r.scan(b)
	if !ok {
		r.reset()
		// Let encoding/json describe the error.
		var v json.RawMessage
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, true, err
		}
		// The reader and encoding/json disagree: trust encoding/json and
		// split the object the slow way (nested objects on demand).
		i := skipWS(b, 0)
		if i < len(b) && b[i] != '{' {
			return nil, true, fmt.Errorf("a JSON %s", kindOf(b[i:]))
		}
		kv, err := r.split(b, i)
		return kv, true, err
	}
	if root.n < 0 {
		return nil, true, fmt.Errorf("a JSON %s", kindOf(b[root.voff:]))
	}
	return r.arena[root.sub : root.sub+root.n : root.sub+root.n], root.dup, nil
}

// scan validates b as one JSON value and records the fields of the
// top-level object and of the objects nested in it through fields. root
// describes the value: n is -1 when it is not an object. ok is false when b
// is not valid JSON.
func (r *reader) scan(b []byte) (root field, ok bool) {
	// The state lives in locals (written back on return) for the compiler
	// to keep it in registers.
	stack, pend, arena := r.stack[:0], r.pend[:0], r.arena
	defer func() { r.stack, r.pend, r.arena = stack, pend, arena }()
	root.n = -1
	n := len(b)
	i := 0
	var top *frame // the innermost open array or object

value:
	if i >= n || b[i] <= ' ' {
		if i = skipWS(b, i); i >= n {
			return root, false
		}
	}
	{
		// The field whose value starts here, if it is recorded.
		var f *field
		if top != nil && top.split {
			f = &pend[len(pend)-1]
		}
		start := i
		switch c := b[i]; c {
		case '"':
			end, fl := scanString(b, i)
			if end < 0 {
				return root, false
			}
			i = end
			if f != nil {
				f.flags = fl
			}
		case '{', '[':
			if len(stack) >= maxDepth {
				return root, false
			}
			fr := frame{obj: c == '{', owner: -1, start: int32(start), first: int32(len(pend))}
			if f != nil {
				fr.owner = int32(len(pend) - 1)
			}
			fr.split = fr.obj && (top == nil || f != nil)
			stack = append(stack, fr)
			top = &stack[len(stack)-1]
			if i = skipWS(b, i+1); i < n && (b[i] == '}' && fr.obj || b[i] == ']' && !fr.obj) {
				i++
				goto close
			}
			if fr.obj {
				goto key
			}
			goto value
		case 't':
			if n-i < 4 || string(b[i:i+4]) != "true" {
				return root, false
			}
			i += 4
		case 'f':
			if n-i < 5 || string(b[i:i+5]) != "false" {
				return root, false
			}
			i += 5
		case 'n':
			if n-i < 4 || string(b[i:i+4]) != "null" {
				return root, false
			}
			i += 4
		default:
			if i = scanNumber(b, i); i < 0 {
				return root, false
			}
		}
		if f != nil {
			f.voff, f.vend = int32(start), int32(i)
		} else if top == nil {
			root.voff, root.vend = int32(start), int32(i)
		}
	}

after:
	if i < n && b[i] <= ' ' {
		i = skipWS(b, i)
	}
	if top == nil {
		return root, i == n
	}
	if i >= n {
		return root, false
	}
	if top.obj {
		switch b[i] {
		case ',':
			i++
			if i < n && b[i] <= ' ' {
				i = skipWS(b, i)
			}
			goto key
		case '}':
			i++
			goto close
		}
		return root, false
	}
	switch b[i] {
	case ',':
		i++
		goto value
	case ']':
		i++
		goto close
	}
	return root, false

close:
	// The array or object on top of the stack ends at b[:i].
	{
		fr := *top
		stack = stack[:len(stack)-1]
		top = nil
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		var sub, cnt int32 = 0, -1
		if fr.split {
			sub = int32(len(arena))
			cnt = int32(len(pend)) - fr.first
			arena = append(arena, pend[fr.first:]...)
			pend = pend[:fr.first]
		}
		o := &root
		if fr.owner >= 0 {
			o = &pend[fr.owner]
		} else if top != nil {
			goto after
		}
		o.voff, o.vend = fr.start, int32(i)
		o.sub, o.n, o.dup = sub, cnt, fr.dup
	}
	goto after

key:
	if i >= n || b[i] != '"' {
		return root, false
	}
	{
		end, fl := scanString(b, i)
		if end < 0 {
			return root, false
		}
		if top.split {
			pend = append(pend, field{koff: int32(i), kend: int32(end), n: -1, key: -1})
			f := &pend[len(pend)-1]
			if fl == 0 || fl == strHigh && utf8.Valid(b[i+1:end-1]) {
				// As written: the tag from the bytes.
				f.tag = uint32(end-i-2)<<16 | uint32(b[i+1])<<8 | uint32(b[end-2])
				if end-i == 2 {
					f.tag = 0
				}
			} else {
				k, _ := unquote(b[i:end])
				f.key = int32(len(r.keys))
				r.keys = append(r.keys, k)
				f.tag = keyTag(k)
			}
			bit := uint64(1) << (f.tag * 0x9E3779B1 >> 26)
			if top.keys&bit != 0 && !top.dup {
				top.dup = r.seen(b, pend[top.first:len(pend)-1], f)
			}
			top.keys |= bit
		}
		i = end
		if i >= n || b[i] != ':' {
			if i = skipWS(b, i); i >= n || b[i] != ':' {
				return root, false
			}
		}
		i++
	}
	goto value
}

// maxItem is the size of the largest item the reader takes (offsets are
// int32; the API client caps a whole page at 64 MiB by default).
const maxItem = 1<<31 - 1

// seen reports whether one of kv has the (decoded) key of f.
func (r *reader) seen(b []byte, kv []field, f *field) bool {
	for i := range kv {
		if p := &kv[i]; p.tag == f.tag && r.sameKey(b, p, f) {
			return true
		}
	}
	return false
}

// sameKey reports whether two fields of b have the same decoded key.
func (r *reader) sameKey(b []byte, p, f *field) bool {
	if p.key < 0 && f.key < 0 {
		return string(b[p.koff+1:p.kend-1]) == string(b[f.koff+1:f.kend-1]) // no copy
	}
	return r.keyOfBytes(b, p) == r.keyOfBytes(b, f)
}

func (r *reader) keyOfBytes(b []byte, f *field) string {
	if f.key < 0 {
		return string(b[f.koff+1 : f.kend-1])
	}
	return r.keys[f.key]
}

// splitAt splits the object b, known to be valid, into fields appended to
// the arena (string flags unknown: strEsc|strHigh); base is where b is in
// the item. The reader splits objects inside arrays this way, on demand.
func (r *reader) splitAt(b []byte, base int) ([]field, error) {
	mbs, err := splitObject(b, nil)
	if err != nil {
		return nil, err
	}
	start := len(r.arena)
	for i := range mbs {
		mb := &mbs[i]
		koff := base + (cap(b) - cap(mb.keyRaw))
		voff := base + (cap(b) - cap(mb.raw))
		f := field{koff: int32(koff), kend: int32(koff + len(mb.keyRaw)), voff: int32(voff), vend: int32(voff + len(mb.raw)),
			n: -1, key: -1, flags: strEsc | strHigh}
		k := mb.name()
		if raw := mb.keyRaw; !(len(raw) == len(k)+2 && string(raw[1:len(raw)-1]) == k) {
			f.key = int32(len(r.keys))
			r.keys = append(r.keys, k)
		}
		f.tag = keyTag(k)
		r.arena = append(r.arena, f)
	}
	return r.arena[start:len(r.arena):len(r.arena)], nil
}

// split is splitAt for the object at b[i:] of the item b.
func (r *reader) split(b []byte, i int) ([]field, error) {
	return r.splitAt(b[i:], i)
}

// strSafe marks the bytes a JSON string holds as they are: not a quote, a
// backslash or a control character.
var strSafe = func() (t [256]bool) {
	for c := 0x20; c < 0x100; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// scanString validates the string starting at b[i] (a quote) and returns the
// index after it, and its flags; -1 when it is not a valid JSON string.
// Like encoding/json, it does not require valid UTF-8.
func scanString(b []byte, i int) (int, uint8) {
	const highs = 0x8080808080808080
	var fl uint8
	var high uint64 // the high bits of the bytes passed
	j := i + 1
	for {
		// Eight bytes at a time up to the first special one.
		for j+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[j:])
			if sp := special8(x); sp != 0 {
				n := bits.TrailingZeros64(sp) >> 3
				high |= x & highs & (1<<(8*n) - 1)
				j += n
				goto special
			}
			high |= x & highs
			j += 8
		}
		for j < len(b) && strSafe[b[j]] {
			high |= uint64(b[j] & 0x80)
			j++
		}
	special:
		if high != 0 {
			fl |= strHigh
		}
		if j >= len(b) {
			return -1, fl
		}
		switch c := b[j]; {
		case c == '"':
			return j + 1, fl
		case c == '\\':
			fl |= strEsc
			if j+1 >= len(b) {
				return -1, fl
			}
			switch b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if j+6 > len(b) || !isHex(b[j+2]) || !isHex(b[j+3]) || !isHex(b[j+4]) || !isHex(b[j+5]) {
					return -1, fl
				}
				j += 6
			default:
				return -1, fl
			}
		default: // a control character
			return -1, fl
		}
	}
}

// special8 returns the high bits of the bytes of x (little-endian) that
// are not strSafe: a quote, a backslash or a control character. The lowest
// bit set is exact; bits above it may be set for safe bytes (borrows), so
// only the first special byte is to be trusted.
func special8(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	q := x ^ (ones * '"')
	bs := x ^ (ones * '\\')
	return ((x-ones*0x20)&^x | (q-ones)&^q | (bs-ones)&^bs) & highs
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// scanNumber validates the number starting at b[i] and returns the index
// after it; -1 when it is not a JSON number.
func scanNumber(b []byte, i int) int {
	n := len(b)
	if i < n && b[i] == '-' {
		i++
	}
	switch {
	case i >= n:
		return -1
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		i++
		for i < n && isDigit(b[i]) {
			i++
		}
	default:
		return -1
	}
	if i < n && b[i] == '.' {
		i++
		if i >= n || !isDigit(b[i]) {
			return -1
		}
		for i < n && isDigit(b[i]) {
			i++
		}
	}
	if i < n && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < n && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= n || !isDigit(b[i]) {
			return -1
		}
		for i < n && isDigit(b[i]) {
			i++
		}
	}
	return i
}

// unquote decodes a JSON string (quotes included) as encoding/json does:
// escapes resolved, invalid UTF-8 and lone surrogates replaced with U+FFFD.
func unquote(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	s := raw[1 : len(raw)-1]
	var stack [256]byte // most strings: one allocation, for the result
	out := stack[:0]
	if len(s) > len(stack)-2*utf8.UTFMax {
		out = make([]byte, 0, len(s)+2*utf8.UTFMax)
	}
	for r := 0; r < len(s); {
		c := s[r]
		switch {
		case c == '\\':
			r++
			if r >= len(s) {
				return "", false
			}
			switch s[r] {
			case '"', '\\', '/', '\'':
				out = append(out, s[r])
				r++
			case 'b':
				out = append(out, '\b')
				r++
			case 'f':
				out = append(out, '\f')
				r++
			case 'n':
				out = append(out, '\n')
				r++
			case 'r':
				out = append(out, '\r')
				r++
			case 't':
				out = append(out, '\t')
				r++
			case 'u':
				rr := getu4(s[r-1:])
				if rr < 0 {
					return "", false
				}
				r += 5
				if utf16.IsSurrogate(rr) {
					rr1 := getu4(s[r:])
					if dec := utf16.DecodeRune(rr, rr1); dec != utf8.RuneError {
						r += 6
						out = utf8.AppendRune(out, dec)
						break
					}
					rr = utf8.RuneError
				}
				out = utf8.AppendRune(out, rr)
			default:
				return "", false
			}
		case c == '"' || c < ' ':
			return "", false
		case c < utf8.RuneSelf:
			out = append(out, c)
			r++
		default:
			rr, size := utf8.DecodeRune(s[r:])
			r += size
			out = utf8.AppendRune(out, rr)
		}
	}
	return string(out), true
}

// getu4 decodes \uXXXX from the beginning of s, returning the hex value, or
// -1.
func getu4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c = c - '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
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
		mb := member{keyRaw: b[i:kEnd], hasKey: esc}
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
	return appendElems(nil, b)
}

// appendElems appends the elements of a JSON array known to be valid to
// out.
func appendElems(out []json.RawMessage, b []byte) ([]json.RawMessage, error) {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '[' {
		return out, errSyntax
	}
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
		if c := b[i]; c > ' ' || c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return i
		}
		i++
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
