package simulator

import (
	crand "crypto/rand"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Generation model
//
// Each event type is a stream: a sorted slice of generated timestamps (8
// bytes per event) followed by an unbounded, lazily computed sequence of live
// events (t0 + k*LiveInterval, k >= 1). Event i of a stream is a pure function
// of (seed, type, i, its timestamp, the stream length): its content comes
// from a PCG generator seeded with (stream seed, i), so nothing but the
// timestamps is stored and any event can be rendered on demand with a handful
// of appends onto pre-rendered fragments (users, clients, locations).
//
// Enum coverage: when a stream holds at least as many generated events as
// there are scenarios for its type, scenario j is forced at index
// floor(j*N/K), so every scenario (and hence every enum value) appears at
// least once, spread evenly over time. All other events pick a scenario by
// weight.

const (
	upperAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	lowerAlphabet = "abcdefghijklmnopqrstuvwxyz234567"
)

// splitmix64 finaliser, used to derive independent seeds.
func mix(a, b uint64) uint64 {
	z := a ^ (b+0x9e3779b97f4a7c15)*0xbf58476d1ce4e5b9
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// idFrom returns a 26-character base32 ID from r.
func idFrom(r *rand.Rand, alphabet string) string {
	var b [26]byte
	var x uint64
	n := 0
	for i := range b {
		if n == 0 {
			x, n = r.Uint64(), 12
		}
		b[i] = alphabet[x&31]
		x >>= 5
		n--
	}
	return string(b[:])
}

// randomUpperID returns a cryptographically random uppercase ID (token jti).
func randomUpperID() string {
	var b [26]byte
	if _, err := crand.Read(b[:]); err != nil {
		panic(err) // crypto/rand.Read does not fail on supported platforms
	}
	for i := range b {
		b[i] = upperAlphabet[b[i]&31]
	}
	return string(b[:])
}

// ---------------------------------------------------------------------------
// Streams

type stream struct {
	kind   int
	seed   uint64
	ts     []int64 // generated events, ascending UnixNano
	t0     int64
	live   int64 // LiveInterval in ns; 0 = none
	coverK int
}

func newStream(kind int, seed uint64, n int, t0, span, live int64) *stream {
	st := &stream{kind: kind, seed: mix(seed, uint64(kind)+101), t0: t0, live: live, coverK: scenarioCount(kind)}
	r := rand.New(rand.NewPCG(mix(seed, uint64(kind)+202), 0x5eed))
	st.ts = make([]int64, n)
	lo := t0 - span
	for i := range st.ts {
		t := lo + r.Int64N(span+1)
		// Real data has nanosecond precision with trailing zeros trimmed on
		// output; mix in whole-second, millisecond and microsecond stamps.
		var unit int64
		switch x := r.IntN(100); {
		case x < 3:
			unit = 1e9
		case x < 8:
			unit = 1e6
		case x < 12:
			unit = 1e3
		}
		if unit > 0 {
			if tt := t - ((t%unit)+unit)%unit; tt >= lo {
				t = tt
			}
		}
		st.ts[i] = t
	}
	slices.Sort(st.ts)
	return st
}

// tsAt is the timestamp of event i (generated or live).
func (st *stream) tsAt(i int) int64 {
	if i < len(st.ts) {
		return st.ts[i]
	}
	return st.t0 + int64(i-len(st.ts)+1)*st.live
}

// lowerBound is the index of the first event (of the unbounded sequence)
// with timestamp >= t.
func (st *stream) lowerBound(t int64) int64 {
	n := len(st.ts)
	i := sort.Search(n, func(i int) bool { return st.ts[i] >= t })
	if i < n || st.live <= 0 {
		return int64(i)
	}
	k := int64(1)
	if d := t - st.t0; d > st.live {
		k = (d + st.live - 1) / st.live
	}
	return int64(n) + k - 1
}

// upperBound is the number of events with timestamp <= t.
func (st *stream) upperBound(t int64) int {
	n := len(st.ts)
	i := sort.Search(n, func(i int) bool { return st.ts[i] > t })
	if i < n || st.live <= 0 || t-st.t0 < st.live {
		return i
	}
	return n + int((t-st.t0)/st.live)
}

// coverage returns the scenario forced at idx, or -1.
func (st *stream) coverage(idx int) int {
	n, k, i := int64(len(st.ts)), int64(st.coverK), int64(idx)
	if k == 0 || n < k || i >= n {
		return -1
	}
	j := (i*k + n - 1) / n
	if j < k && j*n < (i+1)*k {
		return int(j)
	}
	return -1
}

func scenarioCount(kind int) int {
	switch kind {
	case kindSignIn:
		return len(signInScenarios)
	case kindItemUsage:
		return len(itemUsageScenarios)
	case kindAudit:
		return len(auditScenarios)
	}
	return 0
}

// ---------------------------------------------------------------------------
// Scenarios (enum values with plausible pairings and weights)

type signInScenario struct {
	category, typ string
	weight        int
}

// Every category (§6.1) and every type (§6.2, 31 values, plus the legacy
// spelling u2f_timout of spec 1.0.0/1.2.0).
var signInScenarios = []signInScenario{
	{"success", "credentials_ok", 600},
	{"success", "mfa_ok", 150},
	{"success", "federated", 25},
	{"credentials_failed", "password_secret_bad", 80},
	{"mfa_failed", "mfa_missing", 5},
	{"mfa_failed", "totp_bad", 8},
	{"mfa_failed", "totp_disabled", 1},
	{"mfa_failed", "totp_timeout", 2},
	{"mfa_failed", "u2f_bad", 2},
	{"mfa_failed", "u2f_disabled", 1},
	{"mfa_failed", "u2f_timeout", 1},
	{"mfa_failed", "u2f_timout", 1},
	{"mfa_failed", "duo_bad", 2},
	{"mfa_failed", "duo_disabled", 1},
	{"mfa_failed", "duo_native_bad", 1},
	{"mfa_failed", "duo_timeout", 2},
	{"mfa_failed", "platform_secret_bad", 1},
	{"mfa_failed", "platform_secret_disabled", 1},
	{"mfa_failed", "platform_secret_proxy", 1},
	{"mfa_failed", "code_bad", 2},
	{"mfa_failed", "code_disabled", 1},
	{"mfa_failed", "code_timeout", 1},
	{"sso_failed", "non_sso_user", 2},
	{"sso_failed", "sso_user_mismatch", 1},
	{"sso_failed", "service_account_sso_denied", 1},
	{"modern_version_failed", "modern_version_missing", 1},
	{"modern_version_failed", "modern_version_old", 2},
	{"firewall_failed", "ip_blocked", 3},
	{"firewall_failed", "continent_blocked", 2},
	{"firewall_failed", "country_blocked", 3},
	{"firewall_failed", "anonymous_blocked", 2},
	{"firewall_failed", "all_blocked", 1},
	{"firewall_reported_success", "ip_blocked", 1},
	{"firewall_reported_success", "continent_blocked", 1},
	{"firewall_reported_success", "country_blocked", 1},
	{"firewall_reported_success", "anonymous_blocked", 1},
	{"firewall_reported_success", "all_blocked", 1},
}

type itemUsageScenario struct {
	action string
	weight int
}

// All 11 item-usage actions (§6.3).
var itemUsageScenarios = []itemUsageScenario{
	{"fill", 40},
	{"reveal", 20},
	{"secure-copy", 15},
	{"server-fetch", 10},
	{"enter-item-edit-mode", 5},
	{"server-update", 4},
	{"server-create", 2},
	{"select-sso-provider", 2},
	{"other", 2},
	{"export", 1},
	{"share", 1},
}

type objKind uint8

const (
	objAccount objKind = iota
	objUser            // another user; object_details
	objSelf            // the actor; object_details
	objVault
	objItem
	objGroup
	objDevice // a device of the aux user
	objUpper  // opaque uppercase ID
	objLower  // opaque lowercase ID
	objManaged
)

type auxKind uint8

const (
	auxNone        auxKind = iota
	auxMember              // gm: aux_id, aux_uuid + aux_details (member), aux_info R/A
	auxUser                // aux_uuid + aux_details
	auxGroup               // aux_uuid = group
	auxVault               // aux_uuid = vault of the item (or a random vault)
	auxDeviceOwner         // aux_id, aux_uuid + aux_details = device owner
	auxEmail               // aux_info = invitee email
	auxCounts              // aux_info = per-change counts
	auxSession             // aux_uuid = delegating session
	auxSA                  // aux_uuid + aux_details = service account
	auxInfo                // aux_info from the scenario's infos
	auxID                  // aux_id only
)

type actorKind uint8

const (
	actorAdmin actorKind = iota
	actorAnyone
	actorSA
	actorSCIM
)

type auditScenario struct {
	action, object string
	obj            objKind
	aux            auxKind
	actor          actorKind
	weight         int
	infos          []string
}

var (
	ssoProviders = []string{"Okta", "Microsoft Entra ID", "Google Workspace", "OneLogin", "JumpCloud"}
	domains      = []string{"example.com", "corp.example.com", "ejemplo.es", "例子.测试"}
	roles        = []string{"owner", "administrator", "member", "guest"}
	mfaTypes     = []string{"totp", "security_key", "duo"}
)

// All 79 audit actions (§6.4) and all 30 object types (§6.5), with the
// pairings documented in §6.4/§6.6 where known and plausible ones otherwise.
var auditScenarios = []auditScenario{
	{"activate", "account", objAccount, auxNone, actorAdmin, 1, nil},
	{"activate", "user", objUser, auxNone, actorAdmin, 3, nil},
	{"addgsso", "sso", objUpper, auxGroup, actorAdmin, 1, nil},
	{"begin", "ec", objUpper, auxUser, actorAnyone, 1, nil},
	{"beginr", "user", objUser, auxNone, actorAdmin, 1, nil},
	{"cancel", "ec", objUpper, auxUser, actorAnyone, 1, nil},
	{"cancelr", "user", objUser, auxNone, actorAdmin, 1, nil},
	{"changeks", "user", objSelf, auxNone, actorAnyone, 1, nil},
	{"changela", "account", objAccount, auxNone, actorAdmin, 1, nil},
	{"changemp", "user", objSelf, auxNone, actorAnyone, 2, nil},
	{"changenm", "user", objSelf, auxNone, actorAnyone, 1, nil},
	{"changesk", "user", objSelf, auxNone, actorAnyone, 1, nil},
	{"chngasso", "sso", objUpper, auxInfo, actorAdmin, 1, ssoProviders},
	{"chngdsso", "sso", objUpper, auxInfo, actorAdmin, 1, ssoProviders},
	{"chngpsso", "sso", objUpper, auxInfo, actorAdmin, 1, ssoProviders},
	{"complete", "ec", objUpper, auxUser, actorAnyone, 1, nil},
	{"completr", "user", objUser, auxNone, actorAdmin, 1, nil},
	{"convert", "user", objUser, auxNone, actorAdmin, 1, nil},
	{"create", "vault", objVault, auxNone, actorAnyone, 4, nil},
	{"create", "item", objItem, auxVault, actorAnyone, 6, nil},
	{"create", "group", objGroup, auxNone, actorAdmin, 2, nil},
	{"create", "invite", objUpper, auxEmail, actorAdmin, 3, nil},
	{"create", "device", objDevice, auxDeviceOwner, actorAnyone, 5, nil},
	{"create", "file", objLower, auxVault, actorAnyone, 2, nil},
	{"create", "sa", objUpper, auxNone, actorAdmin, 1, nil},
	{"create", "satoken", objUpper, auxSA, actorAdmin, 1, nil},
	{"create", "template", objLower, auxNone, actorAdmin, 1, nil},
	{"create", "slackapp", objUpper, auxNone, actorAdmin, 1, nil},
	{"create", "cred", objLower, auxVault, actorAnyone, 1, nil},
	{"dealldev", "user", objUser, auxNone, actorAdmin, 1, nil},
	{"delete", "vault", objVault, auxNone, actorAdmin, 1, nil},
	{"delete", "item", objItem, auxVault, actorAnyone, 2, nil},
	{"delete", "group", objGroup, auxNone, actorAdmin, 1, nil},
	{"delete", "device", objDevice, auxDeviceOwner, actorAdmin, 1, nil},
	{"delete", "user", objUser, auxNone, actorAdmin, 1, nil},
	{"delete", "card", objUpper, auxNone, actorAdmin, 1, nil},
	{"delgsso", "sso", objUpper, auxGroup, actorAdmin, 1, nil},
	{"delshare", "item", objItem, auxVault, actorAnyone, 1, nil},
	{"deolddev", "user", objUser, auxID, actorAdmin, 1, nil},
	{"detchild", "famchild", objUpper, auxNone, actorAdmin, 1, nil},
	{"disblduo", "account", objAccount, auxNone, actorAdmin, 1, nil},
	{"disblmfa", "user", objUser, auxInfo, actorAdmin, 2, mfaTypes},
	{"disblmfa", "account", objAccount, auxInfo, actorAdmin, 1, mfaTypes},
	{"disblsso", "sso", objUpper, auxNone, actorAdmin, 1, nil},
	{"dlgsess", "dlgdsess", objUpper, auxSession, actorAnyone, 15, nil},
	{"dvrfydmn", "account", objAccount, auxInfo, actorAdmin, 1, domains},
	{"enblduo", "account", objAccount, auxNone, actorAdmin, 1, nil},
	{"enblmfa", "user", objSelf, auxInfo, actorAnyone, 2, mfaTypes},
	{"enblsso", "sso", objUpper, auxInfo, actorAdmin, 1, ssoProviders},
	{"expire", "satoken", objUpper, auxSA, actorAdmin, 1, nil},
	{"export", "vault", objVault, auxNone, actorAnyone, 1, nil},
	{"export", "account", objAccount, auxNone, actorAdmin, 1, nil},
	{"grant", "uva", objVault, auxUser, actorAdmin, 3, nil},
	{"grant", "gva", objVault, auxGroup, actorAdmin, 2, nil},
	{"hide", "vault", objVault, auxNone, actorAnyone, 1, nil},
	{"join", "gm", objGroup, auxMember, actorAdmin, 3, nil},
	{"launchi", "item", objItem, auxVault, actorAnyone, 1, nil},
	{"leave", "gm", objGroup, auxMember, actorAdmin, 1, nil},
	{"musercom", "miguser", objUpper, auxUser, actorAdmin, 1, nil},
	{"muserdec", "miguser", objUpper, auxUser, actorAdmin, 1, nil},
	{"patch", "items", objVault, auxCounts, actorAnyone, 4, nil},
	{"propose", "user", objUser, auxNone, actorAdmin, 1, nil},
	{"provsn", "user", objUser, auxNone, actorSCIM, 2, nil},
	{"prsndall", "invite", objUpper, auxNone, actorAdmin, 1, nil},
	{"purge", "itemhist", objItem, auxVault, actorAdmin, 1, nil},
	{"rdmchild", "famchild", objUpper, auxNone, actorAnyone, 1, nil},
	{"reactive", "user", objUser, auxNone, actorAdmin, 1, nil},
	{"reauth", "user", objSelf, auxNone, actorAnyone, 2, nil},
	{"replace", "vaultkey", objVault, auxNone, actorAdmin, 1, nil},
	{"resendts", "invite", objUpper, auxEmail, actorAdmin, 1, nil},
	{"revoke", "uva", objVault, auxUser, actorAdmin, 1, nil},
	{"revoke", "gva", objVault, auxGroup, actorAdmin, 1, nil},
	{"role", "user", objUser, auxInfo, actorAdmin, 1, roles},
	{"sdvcsso", "user", objSelf, auxNone, actorAnyone, 1, nil},
	{"sendpkg", "item", objItem, auxVault, actorAnyone, 1, nil},
	{"sendts", "invite", objUpper, auxEmail, actorAdmin, 1, nil},
	{"share", "item", objItem, auxVault, actorAnyone, 2, nil},
	{"ssotknv", "ssotkn", objUpper, auxNone, actorAnyone, 8, nil},
	{"suspend", "user", objUser, auxNone, actorAdmin, 1, nil},
	{"tdvcsso", "user", objSelf, auxNone, actorAnyone, 1, nil},
	{"trename", "satoken", objUpper, auxSA, actorAdmin, 1, nil},
	{"trevoke", "satoken", objUpper, auxSA, actorAdmin, 1, nil},
	{"trvlaway", "user", objSelf, auxNone, actorAnyone, 1, nil},
	{"trvlback", "user", objSelf, auxNone, actorAnyone, 1, nil},
	{"tverify", "satoken", objUpper, auxSA, actorSA, 3, nil},
	{"uisas", "account", objAccount, auxNone, actorAdmin, 1, nil},
	{"unhide", "vault", objVault, auxNone, actorAnyone, 1, nil},
	{"unknown", "account", objAccount, auxNone, actorAnyone, 1, nil},
	{"unlink", "mngdacc", objManaged, auxNone, actorAdmin, 1, nil},
	{"updatduo", "account", objAccount, auxNone, actorAdmin, 1, nil},
	{"update", "vault", objVault, auxNone, actorAnyone, 2, nil},
	{"update", "item", objItem, auxVault, actorAnyone, 5, nil},
	{"update", "group", objGroup, auxNone, actorAdmin, 1, nil},
	{"update", "user", objUser, auxNone, actorAdmin, 1, nil},
	{"update", "uva", objVault, auxUser, actorAdmin, 1, nil},
	{"update", "gva", objVault, auxGroup, actorAdmin, 1, nil},
	{"update", "sub", objUpper, auxNone, actorAdmin, 1, nil},
	{"update", "card", objUpper, auxNone, actorAdmin, 1, nil},
	{"update", "pm", objUpper, auxNone, actorAdmin, 1, nil},
	{"update", "template", objLower, auxNone, actorAdmin, 1, nil},
	{"update", "sa", objUpper, auxNone, actorAdmin, 1, nil},
	{"updatea", "account", objAccount, auxNone, actorAdmin, 1, nil},
	{"updatfw", "account", objAccount, auxNone, actorAdmin, 1, nil},
	{"updatmfa", "user", objSelf, auxInfo, actorAnyone, 1, mfaTypes},
	{"upguest", "user", objUser, auxNone, actorAdmin, 1, nil},
	{"uvrfydmn", "account", objAccount, auxInfo, actorAdmin, 1, domains},
	{"verify", "user", objSelf, auxNone, actorAnyone, 1, nil},
	{"view", "report", objUpper, auxNone, actorAdmin, 1, nil},
	{"vrfydmn", "account", objAccount, auxInfo, actorAdmin, 1, domains},
}

// cumulative weights, computed on demand (cheap) to avoid mutable globals.
func pickWeighted(r *rand.Rand, n int, weight func(int) int, total int) int {
	x := r.IntN(total)
	for i := 0; i < n; i++ {
		x -= weight(i)
		if x < 0 {
			return i
		}
	}
	return n - 1
}

// ---------------------------------------------------------------------------
// Pools: people, clients, locations, vaults, items, groups.

const (
	roleHuman = iota
	roleSA
	roleSCIM
)

type person struct {
	uuid, name, email string
	userType          string // "user" or "external_user"
	accountUUID       string // user_account_uuid
	role              int
	home              int // location index
	ipv4, ipv6        string
	devices           []string
	clients           []int
	v1JSON, v2JSON    []byte // User / UserV2 objects
}

type location struct {
	iso, country, region, city, continent string
	lat, lon                              float64
	frag                                  [2][2][]byte // [fullName][latLon]
}

type clientClass int

const (
	clsExtension clientClass = iota
	clsDesktop
	clsWeb
	clsMobile
	clsCLI
	clsSCIM
	clsLegacy
)

type client struct {
	appName, appVersion, platformName, platformVersion, osName, osVersion string
	class                                                                 clientClass
	prefix                                                                []byte // `{"app_name":...,"ip_address":`
}

type itemRef struct {
	uuid  string
	vault int
}

type pools struct {
	people          []*person
	humans          []int
	admins          []int
	sas             []int
	scim            int
	locations       []*location
	clients         []*client
	byClass         map[clientClass][]int
	vaults          []string
	items           []itemRef
	groups          []string
	accountUUID     string
	providerAccount string
	integrationUUID string
	managed         []string
}

var peopleNames = []struct{ name, local string }{
	{"Wendy Appleseed", "wendy.appleseed"},
	{"Jack O'Neill", "jack.oneill"},
	{"Zoë Ñúñez", "zoe.nunez"},
	{"李雷", "li.lei"},
	{"Ольга Смирнова", "olga.smirnova"},
	{"Søren Mikkelsen", "soren.mikkelsen"},
	{"José Álvarez", "jose.alvarez"},
	{"Aoife Ní Bhriain", "aoife.nibhriain"},
	{"Jürgen Müller", "juergen.mueller"},
	{"Nguyễn Thị Lan", "lan.nguyen"},
	{"田中 花子", "hanako.tanaka"},
	{"فاطمة الزهراء", "fatima.alzahra"},
	{"Priya Raghunathan", "priya.raghunathan"},
	{"Chidi Okonkwo", "chidi.okonkwo"},
	{"Łukasz Wiśniewski", "lukasz.wisniewski"},
	{"Björn Ångström", "bjorn.angstrom"},
	{"Ayşe Yılmaz", "ayse.yilmaz"},
	{"Θεόδωρος Παπαδόπουλος", "theodoros.papadopoulos"},
	{"김민준", "minjun.kim"},
	{"Marie-Claire Dubois", "marieclaire.dubois"},
	{`Sean "Sully" Sullivan`, "sean.sullivan"},
	{"Rafael Hernández", "rafael.hernandez"},
	{"Mei Ling Chen", "meiling.chen"},
	{"Kwame Mensah", "kwame.mensah"},
	{"Ingrid Halvorsen", "ingrid.halvorsen"},
	{"Dmitri Volkov", "dmitri.volkov"},
	{"Hannah Schmidt", "hannah.schmidt"},
	{"Oliver Smith", "oliver.smith"},
	{"Emma Johnson", "emma.johnson"},
	{"Liam Brown", "liam.brown"},
	{"Sofia Rossi", "sofia.rossi"},
	{"Mateo García", "mateo.garcia"},
	{"Aarav Patel", "aarav.patel"},
	{"Yuki Sato", "yuki.sato"},
	{"Noah Williams", "noah.williams"},
	{"Ava Martin", "ava.martin"},
	{"Lucas Bernard", "lucas.bernard"},
	{"Isabella Costa", "isabella.costa"},
	{"Ethan Clark", "ethan.clark"},
	{"Ngozi Adeyemi", "ngozi.adeyemi"},
}

var externalNames = []struct{ name, email string }{
	{"Morgan Reyes", "morgan.reyes@msp-partner.example"},
	{"Casey Lindqvist", "casey.lindqvist@msp-partner.example"},
	{"Ahmed Haddad", "ahmed.haddad@msp-partner.example"},
}

var serviceAccountNames = []string{"Terraform Provisioning", "GitHub Actions Deploy", "Kubernetes Operator"}

var locationTable = []location{
	{iso: "CA", country: "Canada", region: "Ontario", city: "Toronto", continent: "North America", lat: 43.64, lon: -79.433},
	{iso: "CA", country: "Canada", region: "Québec", city: "Montréal", continent: "North America", lat: 45.5019, lon: -73.5674},
	{iso: "US", country: "United States", region: "California", city: "Santa Clara", continent: "North America", lat: 37.3541, lon: -121.9552},
	{iso: "US", country: "United States", region: "New York", city: "New York", continent: "North America", lat: 40.7128, lon: -74.006},
	{iso: "US", country: "United States", region: "Texas", city: "Austin", continent: "North America", lat: 30.2672, lon: -97.7431},
	{iso: "IL", country: "Israel", region: "Tel Aviv", city: "Tel Aviv", continent: "Asia", lat: 32.0853, lon: 34.7818},
	{iso: "AR", country: "Argentina", region: "Buenos Aires", city: "Buenos Aires", continent: "South America", lat: -34.6037, lon: -58.3816},
	{iso: "DE", country: "Germany", region: "Bayern", city: "München", continent: "Europe", lat: 48.1351, lon: 11.582},
	{iso: "FR", country: "France", region: "Île-de-France", city: "Paris", continent: "Europe", lat: 48.8566, lon: 2.3522},
	{iso: "JP", country: "Japan", region: "Tokyo", city: "Tokyo", continent: "Asia", lat: 35.6762, lon: 139.6503},
	{iso: "BR", country: "Brazil", region: "São Paulo", city: "São Paulo", continent: "South America", lat: -23.5505, lon: -46.6333},
	{iso: "GB", country: "United Kingdom", region: "England", city: "London", continent: "Europe", lat: 51.5072, lon: -0.1276},
	{iso: "IN", country: "India", region: "Karnataka", city: "Bengaluru", continent: "Asia", lat: 12.9716, lon: 77.5946},
	{iso: "AU", country: "Australia", region: "New South Wales", city: "Sydney", continent: "Oceania", lat: -33.8688, lon: 151.2093},
	{iso: "NL", country: "Netherlands", region: "North Holland", city: "Amsterdam", continent: "Europe", lat: 52.3676, lon: 4.9041},
	{iso: "RU", country: "Russia", region: "Moscow", city: "Moscow", continent: "Europe", lat: 55.7558, lon: 37.6173},
	{iso: "CN", country: "China", region: "Beijing", city: "Beijing", continent: "Asia", lat: 39.9042, lon: 116.4074},
	{iso: "KR", country: "South Korea", region: "Seoul", city: "Seoul", continent: "Asia", lat: 37.5665, lon: 126.978},
	{iso: "ZA", country: "South Africa", region: "Gauteng", city: "Johannesburg", continent: "Africa", lat: -26.2041, lon: 28.0473},
	{iso: "NG", country: "Nigeria", region: "Lagos", city: "Lagos", continent: "Africa", lat: 6.5244, lon: 3.3792},
	{iso: "SE", country: "Sweden", region: "Stockholm County", city: "Stockholm", continent: "Europe", lat: 59.3293, lon: 18.0686},
	{iso: "TR", country: "Türkiye", region: "İstanbul", city: "İstanbul", continent: "Asia", lat: 41.0082, lon: 28.9784},
	{iso: "ES", country: "Spain", region: "Comunidad de Madrid", city: "Madrid", continent: "Europe", lat: 40.4168, lon: -3.7038},
	{iso: "MX", country: "Mexico", region: "Ciudad de México", city: "Ciudad de México", continent: "North America", lat: 19.4326, lon: -99.1332},
}

var clientTable = []client{
	{appName: "1Password Browser Extension", appVersion: "20195", platformName: "Chrome", platformVersion: "124.0.6367.119", osName: "MacOSX", osVersion: "14.4.1", class: clsExtension},
	{appName: "1Password Browser Extension", appVersion: "1109", platformName: "Chrome", platformVersion: "93.0.4577.62", osName: "Android", osVersion: "10", class: clsExtension},
	{appName: "1Password Browser Extension", appVersion: "81062004", platformName: "Edge extension", platformVersion: "124.0.2478.80", osName: "Windows", osVersion: "10.0.22631", class: clsExtension},
	{appName: "1Password Browser Extension", appVersion: "81062004", platformName: "Firefox extension", platformVersion: "125.0.3", osName: "Linux", osVersion: "6.8.9", class: clsExtension},
	{appName: "1Password Extension", appVersion: "20127", platformName: "Chrome", platformVersion: "92.0.4515.159", osName: "MacOSX", osVersion: "10.15.6", class: clsExtension},
	{appName: "1Password for Mac", appVersion: "70902005", platformName: "US - C02FR0H8MD6P", platformVersion: "MacBookPro16,1", osName: "MacOSX", osVersion: "11.6.1", class: clsDesktop},
	{appName: "1Password for Mac", appVersion: "81062026", platformName: "Zoë’s MacBook Air", platformVersion: "Mac14,2", osName: "MacOSX", osVersion: "14.4.1", class: clsDesktop},
	{appName: "1Password for Windows", appVersion: "81062024", platformName: "DESKTOP-7F3K2LQ", platformVersion: "Intel(R) Core(TM) i7-10750H CPU @ 2.60GHz", osName: "Windows", osVersion: "10.0.22631", class: clsDesktop},
	{appName: "1Password for Linux", appVersion: "81062024", platformName: "fedora-ws-04", platformVersion: "AMD Ryzen 7 7840U", osName: "Linux", osVersion: "6.8.9-300.fc40.x86_64", class: clsDesktop},
	{appName: "1Password for Web", appVersion: "1895", platformName: "Microsoft Edge", platformVersion: "124.0.2478.80", osName: "Windows", osVersion: "10", class: clsWeb},
	{appName: "1Password for Web", appVersion: "1895", platformName: "Safari", platformVersion: "17.4.1", osName: "MacOSX", osVersion: "10.15.7", class: clsWeb},
	{appName: "1Password for Web", appVersion: "1901", platformName: "Firefox", platformVersion: "125.0", osName: "Linux", osVersion: "x86_64", class: clsWeb},
	{appName: "1Password for iOS", appVersion: "81062018", platformName: "iPhone", platformVersion: "iPhone15,3", osName: "iOS", osVersion: "17.4.1", class: clsMobile},
	{appName: "1Password for Android", appVersion: "81062010", platformName: "Pixel 8", platformVersion: "Google Pixel 8", osName: "Android", osVersion: "14", class: clsMobile},
	{appName: "1Password CLI", appVersion: "2260101", platformName: "gha-runner-7f9c2", platformVersion: "Intel(R) Xeon(R) Platinum 8370C CPU @ 2.80GHz", osName: "Linux", osVersion: "6.5.0-1018-azure", class: clsCLI},
	{appName: "1Password CLI", appVersion: "2250001", platformName: "build-agent-02", platformVersion: "Apple M2", osName: "MacOSX", osVersion: "14.4", class: clsCLI},
	{appName: "1Password SCIM Bridge", appVersion: "2100", platformName: "op-scim-bridge-5d8f7c9b4-x2kqz", platformVersion: "x86_64", osName: "Linux", osVersion: "5.10.215-203.850.amzn2.x86_64", class: clsSCIM},
	{appName: "1Password 7 - Password Manager", appVersion: "70907012", platformName: "Wendys-iMac", platformVersion: "iMac19,1", osName: "MacOSX", osVersion: "10.14.6", class: clsLegacy},
}

// Public-looking IPv4 first octets (no private, loopback or multicast).
var ipv4FirstOctets = []int{13, 24, 31, 45, 52, 62, 68, 72, 81, 89, 98, 104, 142, 151, 176, 185, 203, 213}

var ipv6Prefixes = [][2]uint16{{0x2600, 0x1700}, {0x2a02, 0x0c7f}, {0x2001, 0x0db8}, {0x2406, 0xda18}, {0x2a01, 0x04f8}, {0x2c0f, 0xf7a8}}

func randIPv4(r *rand.Rand) string {
	b := []byte{}
	b = strconv.AppendInt(b, int64(ipv4FirstOctets[r.IntN(len(ipv4FirstOctets))]), 10)
	for i := 0; i < 3; i++ {
		b = append(b, '.')
		lo, n := 0, 256
		if i == 2 {
			lo, n = 1, 254
		}
		b = strconv.AppendInt(b, int64(lo+r.IntN(n)), 10)
	}
	return string(b)
}

func randIPv6(r *rand.Rand) string {
	var a [16]byte
	p := ipv6Prefixes[r.IntN(len(ipv6Prefixes))]
	a[0], a[1], a[2], a[3] = byte(p[0]>>8), byte(p[0]), byte(p[1]>>8), byte(p[1])
	x, y := r.Uint64(), r.Uint64()
	for i := 4; i < 16; i++ {
		if i < 10 {
			a[i] = byte(x >> (8 * (i - 4)))
		} else {
			a[i] = byte(y >> (8 * (i - 10)))
		}
	}
	// Some zero runs so the compressed "::" form shows up too.
	if r.IntN(2) == 0 {
		a[6], a[7], a[8], a[9] = 0, 0, 0, 0
	}
	return netip.AddrFrom16(a).String()
}

func newPools(seed uint64, msp bool) *pools {
	r := rand.New(rand.NewPCG(mix(seed, 1), mix(seed, 2)))
	p := &pools{byClass: map[clientClass][]int{}}
	p.accountUUID = idFrom(r, upperAlphabet)
	p.providerAccount = idFrom(r, upperAlphabet)
	p.integrationUUID = idFrom(r, upperAlphabet)
	for i := 0; i < 3; i++ {
		p.managed = append(p.managed, idFrom(r, upperAlphabet))
	}

	for i := range locationTable {
		l := locationTable[i]
		for full := 0; full < 2; full++ {
			for ll := 0; ll < 2; ll++ {
				country := l.iso
				if full == 1 {
					country = l.country
				}
				b := append([]byte(`{"country":`), appendJSONString(nil, country)...)
				b = append(b, `,"region":`...)
				b = appendJSONString(b, l.region)
				b = append(b, `,"city":`...)
				b = appendJSONString(b, l.city)
				if ll == 1 {
					b = append(b, `,"latitude":`...)
					b = strconv.AppendFloat(b, l.lat, 'f', -1, 64)
					b = append(b, `,"longitude":`...)
					b = strconv.AppendFloat(b, l.lon, 'f', -1, 64)
				}
				l.frag[full][ll] = append(b, '}')
			}
		}
		p.locations = append(p.locations, &l)
	}

	for i := range clientTable {
		c := clientTable[i]
		b := []byte(`{"app_name":`)
		b = appendJSONString(b, c.appName)
		b = append(b, `,"app_version":`...)
		b = appendJSONString(b, c.appVersion)
		b = append(b, `,"platform_name":`...)
		b = appendJSONString(b, c.platformName)
		b = append(b, `,"platform_version":`...)
		b = appendJSONString(b, c.platformVersion)
		b = append(b, `,"os_name":`...)
		b = appendJSONString(b, c.osName)
		b = append(b, `,"os_version":`...)
		b = appendJSONString(b, c.osVersion)
		c.prefix = append(b, `,"ip_address":`...)
		p.clients = append(p.clients, &c)
		p.byClass[c.class] = append(p.byClass[c.class], i)
	}
	humanClasses := []clientClass{clsExtension, clsDesktop, clsWeb, clsMobile}

	newPerson := func(name, email string, role int, external bool) *person {
		pe := &person{uuid: idFrom(r, upperAlphabet), name: name, email: email, role: role, userType: "user", accountUUID: p.accountUUID}
		if external {
			pe.userType, pe.accountUUID = "external_user", p.providerAccount
		}
		pe.home = r.IntN(len(p.locations))
		if role == roleHuman && r.IntN(10) < 7 {
			pe.home = r.IntN(5) // most of the team in North America
		}
		pe.ipv4 = randIPv4(r)
		if r.IntN(10) < 4 {
			pe.ipv6 = randIPv6(r)
		}
		nd := 1 + r.IntN(3)
		for i := 0; i < nd; i++ {
			pe.devices = append(pe.devices, idFrom(r, lowerAlphabet))
		}
		switch role {
		case roleSA:
			pe.clients = p.byClass[clsCLI]
		case roleSCIM:
			pe.clients = p.byClass[clsSCIM]
		default:
			for len(pe.clients) < 2+r.IntN(2) {
				cls := p.byClass[humanClasses[r.IntN(len(humanClasses))]]
				pe.clients = append(pe.clients, cls[r.IntN(len(cls))])
			}
		}
		u := appendUser(nil, pe, false)
		pe.v1JSON = u
		if msp {
			pe.v2JSON = appendUser(nil, pe, true)
		} else {
			pe.v2JSON = u
		}
		return pe
	}
	for i, n := range peopleNames {
		pe := newPerson(n.name, n.local+"@example.com", roleHuman, false)
		p.humans = append(p.humans, len(p.people))
		if i < 6 {
			p.admins = append(p.admins, len(p.people))
		}
		p.people = append(p.people, pe)
	}
	if msp {
		for _, n := range externalNames {
			pe := newPerson(n.name, n.email, roleHuman, true)
			p.humans = append(p.humans, len(p.people))
			p.admins = append(p.admins, len(p.people))
			p.people = append(p.people, pe)
		}
	}
	for _, n := range serviceAccountNames {
		email := strings.ToLower(idFrom(r, lowerAlphabet)[:12]) + "@1passwordserviceaccounts.com"
		p.sas = append(p.sas, len(p.people))
		p.people = append(p.people, newPerson(n, email, roleSA, false))
	}
	p.scim = len(p.people)
	p.people = append(p.people, newPerson("Provision Manager", "provision-manager@example.com", roleSCIM, false))

	for i := 0; i < 14; i++ {
		p.vaults = append(p.vaults, idFrom(r, lowerAlphabet))
	}
	for i := 0; i < 400; i++ {
		p.items = append(p.items, itemRef{uuid: idFrom(r, lowerAlphabet), vault: r.IntN(len(p.vaults))})
	}
	for i := 0; i < 10; i++ {
		p.groups = append(p.groups, idFrom(r, lowerAlphabet))
	}
	return p
}

// ---------------------------------------------------------------------------
// Events

type event struct {
	kind int
	ts   int64
	uuid string

	person *person
	client *client
	ip     string
	netLoc *location // location of ip
	loc    *location // nil: "location" omitted
	full   bool      // location.country as a full name
	latLon bool

	// sign-in
	sessionUUID string
	category    string
	typ         string
	country     string
	details     string
	hasDetails  bool

	// item usage
	usedVersion int
	vaultUUID   string
	itemUUID    string
	action      string

	// audit
	sc         *auditScenario
	objectUUID string
	objDetails *person
	hasAuxID   bool
	auxID      int64
	auxUUID    string
	auxDetails *person
	auxInfo    string
	loginTime  int64
	deviceUUID string
}

// genEvent fills e with event idx of kind.
func (s *Server) genEvent(e *event, kind, idx int) {
	st := s.streams[kind]
	*e = event{kind: kind, ts: st.tsAt(idx)}
	r := rand.New(rand.NewPCG(st.seed, uint64(idx)))
	e.uuid = idFrom(r, upperAlphabet)
	cov := st.coverage(idx)
	switch kind {
	case kindSignIn:
		s.genSignIn(e, r, cov)
	case kindItemUsage:
		s.genItemUsage(e, r, cov)
	case kindAudit:
		s.genAudit(e, r, cov)
	}
}

func (s *Server) pickHuman(r *rand.Rand) *person {
	p := s.pools
	// Skewed: a few people generate most of the activity.
	f := r.Float64()
	return p.people[p.humans[int(f*f*float64(len(p.humans)))]]
}

func (s *Server) pickNet(e *event, r *rand.Rand, who *person, foreign bool) {
	p := s.pools
	var li int
	switch roll := r.IntN(100); {
	case foreign || roll >= 88:
		li = r.IntN(len(p.locations))
		if r.IntN(10) < 3 {
			e.ip = randIPv6(r)
		} else {
			e.ip = randIPv4(r)
		}
	case roll < 30 && who.ipv6 != "":
		li, e.ip = who.home, who.ipv6
	default:
		li, e.ip = who.home, who.ipv4
	}
	e.netLoc = p.locations[li]
	if r.IntN(100) >= 7 {
		e.loc = e.netLoc
		e.full = r.IntN(100) < 75
		e.latLon = r.IntN(100) >= 10
	}
}

func (s *Server) pickClient(r *rand.Rand, who *person) *client {
	return s.pools.clients[who.clients[r.IntN(len(who.clients))]]
}

func (s *Server) clientOfClass(r *rand.Rand, classes ...clientClass) *client {
	cls := s.pools.byClass[classes[r.IntN(len(classes))]]
	return s.pools.clients[cls[r.IntN(len(cls))]]
}

func (s *Server) genSignIn(e *event, r *rand.Rand, cov int) {
	if cov < 0 {
		cov = pickWeighted(r, len(signInScenarios), func(i int) int { return signInScenarios[i].weight }, signInTotal)
	}
	sc := &signInScenarios[cov]
	e.category, e.typ = sc.category, sc.typ
	e.sessionUUID = idFrom(r, upperAlphabet)
	switch {
	case sc.typ == "service_account_sso_denied" || (sc.category == "success" && sc.typ == "credentials_ok" && r.IntN(20) == 0):
		e.person = s.pools.people[s.pools.sas[r.IntN(len(s.pools.sas))]]
		e.client = s.pickClient(r, e.person)
	case sc.category == "modern_version_failed":
		e.person = s.pickHuman(r)
		e.client = s.clientOfClass(r, clsLegacy)
	case sc.typ == "federated":
		e.person = s.pickHuman(r)
		e.client = s.clientOfClass(r, clsWeb, clsExtension)
	default:
		e.person = s.pickHuman(r)
		e.client = s.pickClient(r, e.person)
	}
	firewall := strings.HasPrefix(sc.category, "firewall_")
	s.pickNet(e, r, e.person, firewall)
	e.country = e.netLoc.iso
	if r.IntN(100) < 4 {
		e.country = e.netLoc.country
	}
	if firewall {
		e.hasDetails = true
		switch sc.typ {
		case "country_blocked":
			e.details = e.netLoc.country
		case "continent_blocked":
			e.details = e.netLoc.continent
		default:
			e.details = e.ip
		}
	}
}

var signInTotal = func() int {
	t := 0
	for _, sc := range signInScenarios {
		t += sc.weight
	}
	return t
}()

var itemUsageTotal = func() int {
	t := 0
	for _, sc := range itemUsageScenarios {
		t += sc.weight
	}
	return t
}()

var auditTotal = func() int {
	t := 0
	for _, sc := range auditScenarios {
		t += sc.weight
	}
	return t
}()

func (s *Server) genItemUsage(e *event, r *rand.Rand, cov int) {
	if cov < 0 {
		cov = pickWeighted(r, len(itemUsageScenarios), func(i int) int { return itemUsageScenarios[i].weight }, itemUsageTotal)
	}
	e.action = itemUsageScenarios[cov].action
	p := s.pools
	switch e.action {
	case "server-fetch", "server-update", "server-create":
		if r.IntN(10) < 4 {
			e.person = p.people[p.sas[r.IntN(len(p.sas))]]
			e.client = s.pickClient(r, e.person)
		} else {
			e.person = s.pickHuman(r)
			e.client = s.clientOfClass(r, clsWeb, clsCLI)
		}
	case "other":
		e.person = s.pickHuman(r)
		e.client = s.clientOfClass(r, clsLegacy)
	case "fill", "select-sso-provider":
		e.person = s.pickHuman(r)
		e.client = s.clientOfClass(r, clsExtension, clsExtension, clsDesktop, clsMobile)
	default:
		e.person = s.pickHuman(r)
		e.client = s.pickClient(r, e.person)
	}
	it := p.items[r.IntN(len(p.items))]
	e.itemUUID, e.vaultUUID = it.uuid, p.vaults[it.vault]
	switch x := r.IntN(100); {
	case x < 4:
		e.usedVersion = 0
	case x < 90:
		e.usedVersion = 1 + r.IntN(6)
	default:
		e.usedVersion = 7 + r.IntN(80)
	}
	s.pickNet(e, r, e.person, false)
}

func (s *Server) genAudit(e *event, r *rand.Rand, cov int) {
	if cov < 0 {
		cov = pickWeighted(r, len(auditScenarios), func(i int) int { return auditScenarios[i].weight }, auditTotal)
	}
	sc := &auditScenarios[cov]
	e.sc = sc
	p := s.pools
	switch sc.actor {
	case actorAdmin:
		if r.IntN(10) < 8 {
			e.person = p.people[p.admins[r.IntN(len(p.admins))]]
		} else {
			e.person = s.pickHuman(r)
		}
	case actorSA:
		e.person = p.people[p.sas[r.IntN(len(p.sas))]]
	case actorSCIM:
		e.person = p.people[p.scim]
	default:
		e.person = s.pickHuman(r)
	}
	other := func() *person {
		for {
			o := s.pickHuman(r)
			if o != e.person || len(p.humans) < 2 {
				return o
			}
		}
	}
	var devOwner *person
	var itemVault string
	switch sc.obj {
	case objAccount:
		e.objectUUID = s.accountUUID
	case objUser:
		o := other()
		e.objectUUID, e.objDetails = o.uuid, o
	case objSelf:
		e.objectUUID, e.objDetails = e.person.uuid, e.person
	case objVault:
		e.objectUUID = p.vaults[r.IntN(len(p.vaults))]
	case objItem:
		it := p.items[r.IntN(len(p.items))]
		e.objectUUID, itemVault = it.uuid, p.vaults[it.vault]
	case objGroup:
		e.objectUUID = p.groups[r.IntN(len(p.groups))]
	case objDevice:
		devOwner = e.person
		if r.IntN(4) == 0 {
			devOwner = other()
		}
		if sc.action == "create" {
			e.objectUUID = idFrom(r, lowerAlphabet)
		} else {
			e.objectUUID = devOwner.devices[r.IntN(len(devOwner.devices))]
		}
	case objLower:
		e.objectUUID = idFrom(r, lowerAlphabet)
	case objManaged:
		e.objectUUID = p.managed[r.IntN(len(p.managed))]
	default:
		e.objectUUID = idFrom(r, upperAlphabet)
	}
	switch sc.aux {
	case auxMember:
		m := other()
		e.hasAuxID, e.auxID = true, 1_000_000+r.Int64N(9_000_000)
		e.auxUUID, e.auxDetails = m.uuid, m
		if r.IntN(4) == 0 {
			e.auxInfo = "A"
		} else {
			e.auxInfo = "R"
		}
	case auxUser:
		m := other()
		e.auxUUID, e.auxDetails = m.uuid, m
	case auxGroup:
		e.auxUUID = p.groups[r.IntN(len(p.groups))]
	case auxVault:
		if itemVault == "" {
			itemVault = p.vaults[r.IntN(len(p.vaults))]
		}
		e.auxUUID = itemVault
	case auxDeviceOwner:
		if devOwner == nil {
			devOwner = e.person
		}
		e.hasAuxID, e.auxID = true, 1_000_000+r.Int64N(9_000_000)
		e.auxUUID, e.auxDetails = devOwner.uuid, devOwner
	case auxEmail:
		e.auxInfo = peopleNames[r.IntN(len(peopleNames))].local + "+" + strconv.Itoa(r.IntN(100)) + "@example.com"
	case auxCounts:
		e.auxInfo = "C:" + strconv.Itoa(r.IntN(4)) + " U:" + strconv.Itoa(1+r.IntN(12)) + " D:" + strconv.Itoa(r.IntN(3))
	case auxSession:
		e.auxUUID = idFrom(r, upperAlphabet)
	case auxSA:
		sa := p.people[p.sas[r.IntN(len(p.sas))]]
		e.auxUUID, e.auxDetails = sa.uuid, sa
	case auxInfo:
		e.auxInfo = sc.infos[r.IntN(len(sc.infos))]
	case auxID:
		e.hasAuxID, e.auxID = true, int64(1+r.IntN(12))
	}
	e.sessionUUID = idFrom(r, upperAlphabet)
	e.loginTime = e.ts - 1_000_000_000 - r.Int64N(10*3600*1_000_000_000)
	e.deviceUUID = e.person.devices[r.IntN(len(e.person.devices))]
	s.pickNet(e, r, e.person, false)
}
