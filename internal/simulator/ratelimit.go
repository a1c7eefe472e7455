package simulator

import (
	"sync"
	"time"
)

// rateLimiter enforces per-account limits with fixed windows aligned to
// wall-clock minutes and hours (UTC). Only admitted requests count; a 429
// does not use up quota. A limit <= 0 is disabled.
type rateLimiter struct {
	mu        sync.Mutex
	perMin    int
	perHour   int
	minWin    int64 // UnixNano start of the current minute window
	hourWin   int64
	minCount  int
	hourCount int
}

// allow admits a request at now, or says how long until the exceeded
// window(s) reset.
func (l *rateLimiter) allow(now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ms := now.Truncate(time.Minute)
	hs := now.Truncate(time.Hour)
	if ms.UnixNano() != l.minWin {
		l.minWin, l.minCount = ms.UnixNano(), 0
	}
	if hs.UnixNano() != l.hourWin {
		l.hourWin, l.hourCount = hs.UnixNano(), 0
	}
	var retry time.Duration
	denied := false
	if l.perMin > 0 && l.minCount >= l.perMin {
		denied = true
		retry = max(retry, ms.Add(time.Minute).Sub(now))
	}
	if l.perHour > 0 && l.hourCount >= l.perHour {
		denied = true
		retry = max(retry, hs.Add(time.Hour).Sub(now))
	}
	if denied {
		return false, retry
	}
	l.minCount++
	l.hourCount++
	return true, 0
}

func (l *rateLimiter) setLimits(perMin, perHour int) {
	l.mu.Lock()
	l.perMin, l.perHour = perMin, perHour
	l.mu.Unlock()
}

// SetRateLimits changes the rate limits while serving, with the meaning of
// Config.RateLimitPerMinute and Config.RateLimitPerHour: 0 selects the
// default (600/min, 30,000/h), a negative value disables the limit. Requests
// already admitted in the current minute and hour windows keep counting
// against the new limits.
func (s *Server) SetRateLimits(perMinute, perHour int) {
	if perMinute == 0 {
		perMinute = DefaultRateLimitPerMinute
	}
	if perHour == 0 {
		perHour = DefaultRateLimitPerHour
	}
	s.limiter.setLimits(perMinute, perHour)
}
