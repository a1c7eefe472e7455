package simulator

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// Enum lists copied from shared/docs/eventsapi-reference.md §6, independently
// of the generator's tables.
var (
	refSignInCategories = strings.Fields(`success credentials_failed mfa_failed sso_failed modern_version_failed
		firewall_failed firewall_reported_success`)
	refSignInTypes = strings.Fields(`all_blocked anonymous_blocked code_bad code_disabled code_timeout
		continent_blocked country_blocked credentials_ok duo_bad duo_disabled duo_native_bad duo_timeout federated
		ip_blocked mfa_missing mfa_ok modern_version_missing modern_version_old non_sso_user password_secret_bad
		platform_secret_bad platform_secret_disabled platform_secret_proxy service_account_sso_denied
		sso_user_mismatch totp_bad totp_disabled totp_timeout u2f_bad u2f_disabled u2f_timeout u2f_timout`)
	refItemActions = strings.Fields(`enter-item-edit-mode export fill other reveal secure-copy select-sso-provider
		server-create server-fetch server-update share`)
	refAuditActions = strings.Fields(`activate addgsso begin beginr cancel cancelr changeks changela changemp
		changenm changesk chngasso chngdsso chngpsso complete completr convert create dealldev delete delgsso
		delshare deolddev detchild disblduo disblmfa disblsso dlgsess dvrfydmn enblduo enblmfa enblsso expire
		export grant hide join launchi leave musercom muserdec patch propose provsn prsndall purge rdmchild
		reactive reauth replace resendts revoke role sdvcsso sendpkg sendts share ssotknv suspend tdvcsso trename
		trevoke trvlaway trvlback tverify uisas unhide unknown unlink updatduo update updatea updatfw updatmfa
		upguest uvrfydmn verify view vrfydmn`)
	refObjectTypes = strings.Fields(`account card cred device dlgdsess ec famchild file gm group gva invite item
		itemhist items miguser mngdacc pm report sa satoken slackapp sso ssotkn sub template user uva vault
		vaultkey`)
)

func sortedKeys(m map[string]int) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedCopy(s []string) []string {
	out := append([]string{}, s...)
	sort.Strings(out)
	return out
}

func equalLists(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestReferenceListSizes(t *testing.T) {
	for _, tc := range []struct {
		name string
		list []string
		n    int
	}{
		{"categories", refSignInCategories, 7},
		{"types (31 + legacy spelling)", refSignInTypes, 32},
		{"item actions", refItemActions, 11},
		{"audit actions", refAuditActions, 79},
		{"object types", refObjectTypes, 30},
	} {
		if len(tc.list) != tc.n {
			t.Errorf("%s: %d values, want %d", tc.name, len(tc.list), tc.n)
		}
	}
}

// bigSim is shared by the generation tests (generation is deterministic).
func bigSim(t *testing.T, msp bool) *Server {
	s, _ := newSim(t, Config{Seed: 42, Events: counts(3000, 3000, 4000), Span: 72 * time.Hour, MSP: msp})
	return s
}

func TestEveryEnumValueAppears(t *testing.T) {
	s := bigSim(t, false)
	seen := map[string]map[string]int{}
	add := func(k, v string) {
		if seen[k] == nil {
			seen[k] = map[string]int{}
		}
		seen[k][v]++
	}
	for _, e := range s.Events(SignInAttempts) {
		m := decodeObj(t, e.JSON)
		add("category", m["category"].(string))
		add("type", m["type"].(string))
	}
	for _, e := range s.Events(ItemUsages) {
		add("action", decodeObj(t, e.JSON)["action"].(string))
	}
	for _, e := range s.Events(AuditEvents) {
		m := decodeObj(t, e.JSON)
		add("audit", m["action"].(string))
		add("object", m["object_type"].(string))
	}
	enums := Enums()
	for _, tc := range []struct {
		key, enum string
		want      []string
	}{
		{"category", "signin.category", refSignInCategories},
		{"type", "signin.type", refSignInTypes},
		{"action", "itemusage.action", refItemActions},
		{"audit", "audit.action", refAuditActions},
		{"object", "audit.object_type", refObjectTypes},
	} {
		want := sortedCopy(tc.want)
		if got := sortedKeys(seen[tc.key]); !equalLists(got, want) {
			t.Errorf("%s: generated %v\nwant %v", tc.key, got, want)
		}
		if got := enums[tc.enum]; !equalLists(got, want) {
			t.Errorf("Enums()[%s] = %v", tc.enum, got)
		}
	}
	// The common values dominate, as in real data.
	if seen["category"]["success"] < 1500 || seen["action"]["fill"] < seen["action"]["share"] {
		t.Errorf("implausible distribution: %v %v", seen["category"], seen["action"])
	}
}

func TestSignInPairings(t *testing.T) {
	s := bigSim(t, false)
	allowed := map[string][]string{
		"success":                   {"credentials_ok", "mfa_ok", "federated"},
		"credentials_failed":        {"password_secret_bad"},
		"sso_failed":                {"non_sso_user", "sso_user_mismatch", "service_account_sso_denied"},
		"modern_version_failed":     {"modern_version_missing", "modern_version_old"},
		"firewall_failed":           {"ip_blocked", "continent_blocked", "country_blocked", "anonymous_blocked", "all_blocked"},
		"firewall_reported_success": {"ip_blocked", "continent_blocked", "country_blocked", "anonymous_blocked", "all_blocked"},
	}
	mfaPrefixes := []string{"mfa_missing", "totp_", "u2f_", "duo_", "platform_secret_", "code_"}
	for _, e := range s.Events(SignInAttempts) {
		m := decodeObj(t, e.JSON)
		cat, typ := m["category"].(string), m["type"].(string)
		ok := false
		if cat == "mfa_failed" {
			for _, p := range mfaPrefixes {
				ok = ok || strings.HasPrefix(typ, p)
			}
		}
		for _, a := range allowed[cat] {
			ok = ok || a == typ
		}
		if !ok {
			t.Fatalf("implausible pairing %s/%s", cat, typ)
		}
		details, present := m["details"]
		if !present {
			t.Fatalf("details missing: %s", e.JSON)
		}
		if strings.HasPrefix(cat, "firewall_") {
			d, _ := details.(map[string]any)
			if v, _ := d["value"].(string); v == "" {
				t.Fatalf("firewall sign-in without details.value: %s", e.JSON)
			}
		} else if details != nil {
			t.Fatalf("ordinary sign-in with details: %s", e.JSON)
		}
	}
}

var (
	upperID = regexp.MustCompile(`^[A-Z2-7]{26}$`)
	lowerID = regexp.MustCompile(`^[a-z2-7]{26}$`)
)

func TestEventRealism(t *testing.T) {
	s := bigSim(t, false)
	lo, hi := baseTime.Add(-72*time.Hour), baseTime
	uuids := map[string]bool{}
	var (
		noLocation, noLatLon, isoCountry, fullCountry, v4, v6, wholeSecond, fraction int
		names                                                                        = map[string]bool{}
		auxIDs                                                                       int
	)
	checkTS := func(v any, what string) time.Time {
		str, _ := v.(string)
		ts, err := time.Parse(time.RFC3339Nano, str)
		if err != nil || str != ts.UTC().Format(time.RFC3339Nano) {
			t.Fatalf("%s %q is not RFC3339Nano UTC with trimmed zeros", what, str)
		}
		return ts
	}
	checkUser := func(u any, what string) {
		m, ok := u.(map[string]any)
		if !ok {
			t.Fatalf("%s is not an object", what)
		}
		if !upperID.MatchString(m["uuid"].(string)) || !strings.Contains(m["email"].(string), "@") || m["name"] == "" {
			t.Fatalf("%s: %v", what, m)
		}
		names[m["name"].(string)] = true
	}
	checkNet := func(m map[string]any, ip string) {
		a, err := netip.ParseAddr(ip)
		if err != nil {
			t.Fatalf("bad ip %q", ip)
		}
		if a.Is4() {
			v4++
		} else {
			v6++
		}
		loc, ok := m["location"].(map[string]any)
		if !ok {
			noLocation++
			return
		}
		if c := loc["country"].(string); len(c) == 2 {
			isoCountry++
		} else {
			fullCountry++
		}
		_, hasLat := loc["latitude"].(json.Number)
		_, hasLon := loc["longitude"].(json.Number)
		if hasLat != hasLon {
			t.Fatalf("latitude without longitude: %v", loc)
		}
		if !hasLat {
			noLatLon++
		}
	}
	for _, typ := range []string{SignInAttempts, ItemUsages, AuditEvents} {
		ev := s.Events(typ)
		for i, e := range ev {
			if !json.Valid(e.JSON) {
				t.Fatalf("invalid JSON: %s", e.JSON)
			}
			m := decodeObj(t, e.JSON)
			if m["uuid"] != e.UUID || !upperID.MatchString(e.UUID) || uuids[e.UUID] {
				t.Fatalf("bad or duplicate uuid %q", e.UUID)
			}
			uuids[e.UUID] = true
			ts := checkTS(m["timestamp"], "timestamp")
			if !ts.Equal(e.Timestamp) || ts.Before(lo) || ts.After(hi) {
				t.Fatalf("timestamp %v (oracle %v) outside [%v, %v]", ts, e.Timestamp, lo, hi)
			}
			if i > 0 && ts.Before(ev[i-1].Timestamp) {
				t.Fatal("events out of order")
			}
			if ts.Nanosecond() == 0 {
				wholeSecond++
			} else {
				fraction++
			}
			switch typ {
			case SignInAttempts:
				if !upperID.MatchString(m["session_uuid"].(string)) {
					t.Fatalf("session_uuid %v", m["session_uuid"])
				}
				checkUser(m["target_user"], "target_user")
				c := m["client"].(map[string]any)
				if len(c) != 7 {
					t.Fatalf("client keys: %v", c)
				}
				checkNet(m, c["ip_address"].(string))
				if m["country"] == "" {
					t.Fatal("empty country")
				}
			case ItemUsages:
				if !lowerID.MatchString(m["vault_uuid"].(string)) || !lowerID.MatchString(m["item_uuid"].(string)) {
					t.Fatalf("vault/item ids: %s", e.JSON)
				}
				if v, ok := m["used_version"].(json.Number); !ok || strings.ContainsAny(v.String(), ".eE-") {
					t.Fatalf("used_version %v", m["used_version"])
				}
				checkUser(m["user"], "user")
				checkNet(m, m["client"].(map[string]any)["ip_address"].(string))
			case AuditEvents:
				if !upperID.MatchString(m["actor_uuid"].(string)) {
					t.Fatalf("actor_uuid %v", m["actor_uuid"])
				}
				checkUser(m["actor_details"], "actor_details")
				if m["actor_details"].(map[string]any)["uuid"] != m["actor_uuid"] {
					t.Fatal("actor_details.uuid != actor_uuid")
				}
				for _, k := range []string{"object_uuid", "aux_uuid", "aux_info"} {
					if v, ok := m[k]; ok && v == "" {
						t.Fatalf("%s present but empty: %s", k, e.JSON)
					}
				}
				if v, ok := m["aux_id"]; ok {
					if n, isNum := v.(json.Number); !isNum || strings.ContainsAny(n.String(), ".eE") {
						t.Fatalf("aux_id %v", v)
					}
					auxIDs++
				}
				for _, k := range []string{"object_details", "aux_details"} {
					if v, ok := m[k]; ok {
						checkUser(v, k)
					}
				}
				if m["object_type"] == "gm" && m["aux_info"] != "A" && m["aux_info"] != "R" {
					t.Fatalf("gm aux_info %v", m["aux_info"])
				}
				sess := m["session"].(map[string]any)
				if k := keysOf(sess); len(k) != 4 || !k["uuid"] || !k["login_time"] || !k["device_uuid"] || !k["ip"] {
					t.Fatalf("session keys %v", k)
				}
				if !upperID.MatchString(sess["uuid"].(string)) || !lowerID.MatchString(sess["device_uuid"].(string)) {
					t.Fatalf("session ids %v", sess)
				}
				if lt := checkTS(sess["login_time"], "login_time"); lt.After(ts) {
					t.Fatalf("login_time %v after timestamp %v", lt, ts)
				}
				checkNet(m, sess["ip"].(string))
			}
		}
	}
	for what, n := range map[string]int{"no location": noLocation, "no lat/lon": noLatLon, "ISO country": isoCountry,
		"full country": fullCountry, "IPv4": v4, "IPv6": v6, "whole-second ts": wholeSecond, "fractional ts": fraction, "aux_id": auxIDs} {
		if n < 20 {
			t.Errorf("too few events with %s: %d", what, n)
		}
	}
	for _, want := range []string{"Zoë Ñúñez", "李雷", "Ольга Смирнова", `Sean "Sully" Sullivan`} {
		if !names[want] {
			t.Errorf("name %q never generated", want)
		}
	}
}

func TestShapesV1V2MSP(t *testing.T) {
	plain := bigSim(t, false)
	msp := bigSim(t, true)
	userKeys := func(m map[string]any, key string) map[string]bool { return keysOf(m[key].(map[string]any)) }
	check := func(name string, cond bool) {
		t.Helper()
		if !cond {
			t.Errorf("%s", name)
		}
	}
	externals := map[string]int{}
	for _, srv := range []struct {
		name string
		s    *Server
		msp  bool
	}{{"plain", plain, false}, {"msp", msp, true}} {
		for _, typ := range []string{SignInAttempts, ItemUsages, AuditEvents} {
			v1, v2 := srv.s.EventsV1(typ), srv.s.Events(typ)
			if len(v1) != len(v2) {
				t.Fatalf("v1/v2 lengths differ")
			}
			for i := range v1 {
				if v1[i].UUID != v2[i].UUID || !v1[i].Timestamp.Equal(v2[i].Timestamp) {
					t.Fatalf("v1 and v2 serve different events at %d", i)
				}
				m1, m2 := decodeObj(t, v1[i].JSON), decodeObj(t, v2[i].JSON)
				switch typ {
				case SignInAttempts, ItemUsages:
					uk := "target_user"
					if typ == ItemUsages {
						uk = "user"
					}
					check("v1 has account_uuid", m1["account_uuid"] == nil)
					check("v1 user has MSP fields", len(userKeys(m1, uk)) == 3)
					if srv.msp {
						check("MSP v2 lacks account_uuid", m2["account_uuid"] == srv.s.AccountUUID())
						u := m2[uk].(map[string]any)
						check("MSP v2 user lacks user_type", u["user_type"] == "user" || u["user_type"] == "external_user")
						check("MSP v2 user lacks user_account_uuid", upperID.MatchString(u["user_account_uuid"].(string)))
						if u["user_type"] == "external_user" {
							externals[typ]++
							check("external user in own account", u["user_account_uuid"] != srv.s.AccountUUID())
						}
					} else {
						check("plain v2 has account_uuid", m2["account_uuid"] == nil)
						check("plain v2 user has MSP fields", len(userKeys(m2, uk)) == 3)
					}
					delete(m2, "account_uuid")
				case AuditEvents:
					for _, k := range []string{"actor_type", "actor_account_uuid", "account_uuid"} {
						check("v1 audit has "+k, m1[k] == nil)
						check("v2 audit lacks "+k, m2[k] != nil)
					}
					check("v2 account_uuid", m2["account_uuid"] == srv.s.AccountUUID())
					at := m2["actor_type"]
					if srv.msp {
						check("actor_type enum", at == "user" || at == "external_user")
						if at == "external_user" {
							externals[typ]++
							check("external actor's account", m2["actor_account_uuid"] != m2["account_uuid"])
							check("actor_details.user_type", m2["actor_details"].(map[string]any)["user_type"] == "external_user")
						}
					} else {
						check("plain actor_type", at == "user")
						check("plain actor_details keys", len(userKeys(m2, "actor_details")) == 3)
					}
					check("v1 actor_details keys", len(userKeys(m1, "actor_details")) == 3)
				}
			}
		}
	}
	for _, typ := range []string{SignInAttempts, ItemUsages, AuditEvents} {
		if externals[typ] == 0 {
			t.Errorf("MSP %s: no external users", typ)
		}
	}
	// The served v1 payload is the EventsV1 oracle.
	tok := mustToken(t, msp, TokenOptions{})
	p := mustPost(t, msp, "/api/v1/auditevents", tok, `{"limit":50,"start_time":"2025-10-01T00:00:00Z"}`)
	v1 := msp.EventsV1(AuditEvents)
	for i, it := range p.Items {
		if !bytes.Equal(it, v1[i].JSON) {
			t.Fatalf("served v1 item %d differs from EventsV1", i)
		}
	}
}

func TestDeterminism(t *testing.T) {
	cfg := Config{Seed: 77, Events: counts(300, 300, 300), Span: 48 * time.Hour, MSP: true}
	a, _ := newSim(t, cfg)
	b, _ := newSim(t, cfg)
	cfg.Seed = 78
	c, _ := newSim(t, cfg)
	for _, typ := range []string{SignInAttempts, ItemUsages, AuditEvents} {
		ea, eb, ec := a.Events(typ), b.Events(typ), c.Events(typ)
		for i := range ea {
			if !bytes.Equal(ea[i].JSON, eb[i].JSON) {
				t.Fatalf("%s %d differs between identical configs", typ, i)
			}
		}
		if ea[0].UUID == ec[0].UUID {
			t.Errorf("%s: different seeds gave the same first event", typ)
		}
	}
	if a.AccountUUID() != b.AccountUUID() || a.IntegrationUUID() != b.IntegrationUUID() {
		t.Error("account/integration UUIDs not deterministic")
	}
	// Cursors are deterministic too (same seed, same state).
	ta, tb := mustToken(t, a, TokenOptions{}), mustToken(t, b, TokenOptions{})
	if pa, pb := mustPost(t, a, "/api/v2/itemusages", ta, `{"limit":5}`), mustPost(t, b, "/api/v2/itemusages", tb, `{"limit":5}`); pa.Cursor != pb.Cursor {
		t.Error("cursors differ")
	}
}

func TestNewValidation(t *testing.T) {
	for _, cfg := range []Config{
		{Events: map[string]int{"signins": 1}},
		{Events: map[string]int{SignInAttempts: -1}},
		{Span: -time.Second},
		{LiveInterval: -time.Second},
		{Latency: -time.Second},
		{ErrorShape: "xml"},
		{MixedCursorAndReset: "merge"},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, in := range []string{"", "plain", `q"uote`, `back\slash`, "tab\tnl\ncr\r", "ctl\x00\x01\x1f", "Zoë Ñúñez 李雷 Ольга",
		"line\u2028sep\u2029", "bad\xffutf8\xc3", "<html>&amp;", "emoji 🔑"} {
		out := appendJSONString(nil, in)
		if !json.Valid(out) {
			t.Fatalf("%q -> invalid %s", in, out)
		}
		var got string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		ref, _ := json.Marshal(in)
		var want string
		_ = json.Unmarshal(ref, &want)
		if got != want {
			t.Errorf("%q: round trip %q, encoding/json gives %q", in, got, want)
		}
	}
}

// TestLargeGeneration serves pages from a 600,000-event account; how fast
// is measured by BenchmarkLargeGeneration, not asserted here.
func TestLargeGeneration(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	servePages(t, 50)
}

func BenchmarkLargeGeneration(b *testing.B) {
	for range b.N {
		servePages(b, 50)
	}
}

// servePages builds a 600,000-event account and pages through 1+pages
// pages of 1,000 audit events.
func servePages(t testing.TB, pages int) {
	t.Helper()
	s, _ := newSim(t, Config{Seed: 1, Events: counts(200_000, 200_000, 200_000), Span: 90 * 24 * time.Hour, RateLimitPerMinute: -1, RateLimitPerHour: -1})
	tok := mustToken(t, s, TokenOptions{})
	body := `{"limit":1000,"start_time":"2025-01-01T00:00:00Z"}`
	p := mustPost(t, s, "/api/v2/auditevents", tok, body)
	n := len(p.Items)
	for i := 0; i < pages && p.HasMore; i++ {
		p = mustPost(t, s, "/api/v2/auditevents", tok, cursorBody(p.Cursor))
		n += len(p.Items)
	}
	if want := (pages + 1) * 1000; n != want {
		t.Fatalf("served %d events, want %d", n, want)
	}
}
