package simulator

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// JSON is rendered with appends (no reflection) onto pre-rendered fragments;
// the tests check every shape against encoding/json.

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Like encoding/json it writes
// non-ASCII UTF-8 as is, replaces invalid UTF-8 with U+FFFD and escapes
// U+2028/U+2029; unlike it, it does not HTML-escape <, > and &.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func appendTime(b []byte, ns int64) []byte {
	return time.Unix(0, ns).UTC().AppendFormat(b, time.RFC3339Nano)
}

// appendUser renders a User ({uuid,name,email}) or, with msp, a UserV2 with
// the MSP fields user_type and user_account_uuid.
func appendUser(b []byte, p *person, msp bool) []byte {
	b = append(b, `{"uuid":`...)
	b = appendJSONString(b, p.uuid)
	b = append(b, `,"name":`...)
	b = appendJSONString(b, p.name)
	b = append(b, `,"email":`...)
	b = appendJSONString(b, p.email)
	if msp {
		b = append(b, `,"user_type":`...)
		b = appendJSONString(b, p.userType)
		b = append(b, `,"user_account_uuid":`...)
		b = appendJSONString(b, p.accountUUID)
	}
	return append(b, '}')
}

func (s *Server) userJSON(p *person, v2 bool) []byte {
	if v2 {
		return p.v2JSON
	}
	return p.v1JSON
}

func appendClient(b []byte, c *client, ip string) []byte {
	b = append(b, c.prefix...)
	b = appendJSONString(b, ip)
	return append(b, '}')
}

func appendLocation(b []byte, e *event) []byte {
	if e.loc == nil {
		return b
	}
	full, ll := 0, 0
	if e.full {
		full = 1
	}
	if e.latLon {
		ll = 1
	}
	b = append(b, `,"location":`...)
	return append(b, e.loc.frag[full][ll]...)
}

// appendEvent renders e in the v2 (or v1) shape.
func (s *Server) appendEvent(b []byte, e *event, v2 bool) []byte {
	switch e.kind {
	case kindSignIn:
		return s.appendSignIn(b, e, v2)
	case kindItemUsage:
		return s.appendItemUsage(b, e, v2)
	default:
		return s.appendAudit(b, e, v2)
	}
}

func (s *Server) appendSignIn(b []byte, e *event, v2 bool) []byte {
	b = append(b, `{"uuid":"`...)
	b = append(b, e.uuid...)
	b = append(b, `","session_uuid":"`...)
	b = append(b, e.sessionUUID...)
	b = append(b, `","timestamp":"`...)
	b = appendTime(b, e.ts)
	b = append(b, `","category":"`...)
	b = append(b, e.category...)
	b = append(b, `","type":"`...)
	b = append(b, e.typ...)
	b = append(b, `","country":`...)
	b = appendJSONString(b, e.country)
	if e.hasDetails {
		b = append(b, `,"details":{"value":`...)
		b = appendJSONString(b, e.details)
		b = append(b, '}')
	} else {
		b = append(b, `,"details":null`...)
	}
	b = append(b, `,"target_user":`...)
	b = append(b, s.userJSON(e.person, v2)...)
	b = append(b, `,"client":`...)
	b = appendClient(b, e.client, e.ip)
	b = appendLocation(b, e)
	if v2 && s.msp {
		b = append(b, `,"account_uuid":"`...)
		b = append(b, s.accountUUID...)
		b = append(b, '"')
	}
	return append(b, '}')
}

func (s *Server) appendItemUsage(b []byte, e *event, v2 bool) []byte {
	b = append(b, `{"uuid":"`...)
	b = append(b, e.uuid...)
	b = append(b, `","timestamp":"`...)
	b = appendTime(b, e.ts)
	b = append(b, `","used_version":`...)
	b = strconv.AppendInt(b, int64(e.usedVersion), 10)
	b = append(b, `,"vault_uuid":"`...)
	b = append(b, e.vaultUUID...)
	b = append(b, `","item_uuid":"`...)
	b = append(b, e.itemUUID...)
	b = append(b, `","action":"`...)
	b = append(b, e.action...)
	b = append(b, `","user":`...)
	b = append(b, s.userJSON(e.person, v2)...)
	b = append(b, `,"client":`...)
	b = appendClient(b, e.client, e.ip)
	b = appendLocation(b, e)
	if v2 && s.msp {
		b = append(b, `,"account_uuid":"`...)
		b = append(b, s.accountUUID...)
		b = append(b, '"')
	}
	return append(b, '}')
}

func (s *Server) appendAudit(b []byte, e *event, v2 bool) []byte {
	b = append(b, `{"uuid":"`...)
	b = append(b, e.uuid...)
	b = append(b, `","timestamp":"`...)
	b = appendTime(b, e.ts)
	b = append(b, `","actor_uuid":"`...)
	b = append(b, e.person.uuid...)
	b = append(b, `","actor_details":`...)
	b = append(b, s.userJSON(e.person, v2)...)
	if v2 {
		actorType, actorAccount := "user", s.accountUUID
		if s.msp {
			actorType, actorAccount = e.person.userType, e.person.accountUUID
		}
		b = append(b, `,"actor_type":"`...)
		b = append(b, actorType...)
		b = append(b, `","actor_account_uuid":"`...)
		b = append(b, actorAccount...)
		b = append(b, `","account_uuid":"`...)
		b = append(b, s.accountUUID...)
		b = append(b, '"')
	}
	b = append(b, `,"action":"`...)
	b = append(b, e.sc.action...)
	b = append(b, `","object_type":"`...)
	b = append(b, e.sc.object...)
	b = append(b, `","object_uuid":"`...)
	b = append(b, e.objectUUID...)
	b = append(b, '"')
	if e.objDetails != nil {
		b = append(b, `,"object_details":`...)
		b = append(b, e.objDetails.v1JSON...)
	}
	if e.hasAuxID {
		b = append(b, `,"aux_id":`...)
		b = strconv.AppendInt(b, e.auxID, 10)
	}
	if e.auxUUID != "" {
		b = append(b, `,"aux_uuid":"`...)
		b = append(b, e.auxUUID...)
		b = append(b, '"')
	}
	if e.auxDetails != nil {
		b = append(b, `,"aux_details":`...)
		b = append(b, e.auxDetails.v1JSON...)
	}
	if e.auxInfo != "" {
		b = append(b, `,"aux_info":`...)
		b = appendJSONString(b, e.auxInfo)
	}
	b = append(b, `,"session":{"uuid":"`...)
	b = append(b, e.sessionUUID...)
	b = append(b, `","login_time":"`...)
	b = appendTime(b, e.loginTime)
	b = append(b, `","device_uuid":"`...)
	b = append(b, e.deviceUUID...)
	b = append(b, `","ip":`...)
	b = appendJSONString(b, e.ip)
	b = append(b, '}')
	b = appendLocation(b, e)
	return append(b, '}')
}
