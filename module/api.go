package module

// Shared sub-objects of the Events API items (reference §5.1). They document
// the payloads and let tests and tools build items; the mappers themselves do
// not decode into these structs (see Object), so that one field of a wrong
// JSON type cannot spoil the rest of the item.

// User is the person an event is about: v1 User {uuid, name, email} and v2
// UserV2, which adds user_type and user_account_uuid for MSP accounts. It is
// target_user of sign-in attempts, user of item usages and actor_details of
// audit events; object_details and aux_details of audit events hold the first
// three fields only.
type User struct {
	UUID  string `json:"uuid,omitempty"`
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	// UserType is "user" or "external_user" (v2, MSP accounts).
	UserType string `json:"user_type,omitempty"`
	// UserAccountUUID is the UUID of the user's account (v2, MSP accounts).
	UserAccountUUID string `json:"user_account_uuid,omitempty"`
}

// Client is the 1Password app that produced a sign-in attempt or item usage.
type Client struct {
	AppName         string `json:"app_name,omitempty"`
	AppVersion      string `json:"app_version,omitempty"`
	PlatformName    string `json:"platform_name,omitempty"`
	PlatformVersion string `json:"platform_version,omitempty"`
	OSName          string `json:"os_name,omitempty"`
	OSVersion       string `json:"os_version,omitempty"`
	IPAddress       string `json:"ip_address,omitempty"`
}

// Location is 1Password's own geolocation of the client IP. The whole object,
// or latitude and longitude, may be missing. Country is an ISO code in the
// specification but a full name ("Canada") in observed data.
type Location struct {
	Country   string   `json:"country,omitempty"`
	Region    string   `json:"region,omitempty"`
	City      string   `json:"city,omitempty"`
	Latitude  *float64 `json:"latitude,omitempty"`
	Longitude *float64 `json:"longitude,omitempty"`
}

// Details is the details object of a sign-in attempt (often JSON null).
type Details struct {
	Value string `json:"value,omitempty"`
}

// Session is the session of an audit event. Note the key ip, not ip_address.
type Session struct {
	UUID       string `json:"uuid,omitempty"`
	LoginTime  string `json:"login_time,omitempty"`
	DeviceUUID string `json:"device_uuid,omitempty"`
	IP         string `json:"ip,omitempty"`
}
