package module

// boxList returns a copy of list for a document field. The copy's capacity
// is its length, so that a processor appending to one list of a document
// reallocates instead of writing into scratch that the next item reuses.
func boxList(list ...string) []string {
	out := make([]string, len(list))
	copy(out, list)
	return out
}
