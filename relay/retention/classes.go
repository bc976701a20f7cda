// Package retention is the relay's privacy engine: the one table of data
// classes with their retention rules (DESIGN.md's retention table and the
// seeds' privacy policy), per-tenant overrides of those periods, legal
// holds on data subjects, and the privacy report that mirrors the data
// processing agreement's annexes 3 and 4.
//
// The table lives in code so that what the relay enforces and what the
// privacy report prints cannot drift apart. Overrides and holds live in the
// relay store; every change to them is recorded in the audit log with ids
// and periods only.
package retention

import "time"

// Data class ids. They are the values used in the store, the API, the
// audit log and metrics labels (meeting and chat use the same strings).
const (
	// ClassMeetingContent is a meeting's whiteboard, text chat and files.
	ClassMeetingContent = "meeting_content"
	// ClassMeetingMetadata is a meeting's metadata (IP, times, names).
	ClassMeetingMetadata = "meeting_metadata"
	// ClassMeetingState is a meeting's operational record; it follows
	// ClassMeetingMetadata.
	ClassMeetingState = "meeting_state"
	// ClassAccessLog is the relay's access log.
	ClassAccessLog = "access_log"
	// ClassBooking is a booked appointment with the customer's details.
	ClassBooking = "booking"
	// ClassCustomerProfile is a customer's profile (name, e-mail, mobile).
	ClassCustomerProfile = "customer_profile"
	// ClassSignatureProcess is a signature process that was not completed.
	ClassSignatureProcess = "signature_process"
	// ClassSignedDocument is a signed document with its biometric data.
	ClassSignedDocument = "signed_document"
	// ClassRecording is a recording archive.
	ClassRecording = "recording"
	// ClassAdvisorAccount is an advisor's account.
	ClassAdvisorAccount = "advisor_account"
	// ClassMessengerMessages is a messenger conversation's messages.
	ClassMessengerMessages = "messenger_messages"
	// ClassFeedback is a feedback questionnaire's consent, link and
	// answer (seed 002 §2.3.8).
	ClassFeedback = "feedback"
)

// Person is a group of people a data class concerns (the annex 4 columns).
type Person string

// The groups of concerned persons.
const (
	Admin    Person = "admin"
	Advisor  Person = "advisor"
	Customer Person = "customer"
)

// Kind says from when a class's period runs.
type Kind string

// Rule kinds.
const (
	// FromCreation: the period runs from when the record was created.
	FromCreation Kind = "fixed"
	// FromEvent: the period runs from an event named in Class.From (a
	// meeting's end, an appointment, a completion).
	FromEvent Kind = "event"
	// Sliding: the period runs from the last interaction and restarts with
	// each one.
	Sliding Kind = "sliding"
	// UntilDeleted: kept until its owner deletes it; no period.
	UntilDeleted Kind = "until_deleted"
)

// Action is what happens when a period is over.
type Action string

// Actions.
const (
	Delete    Action = "delete"
	Anonymise Action = "anonymise"
)

// Storage locations.
const (
	storeLocation = "relay store (badger, AES-256 encrypted), on the relay's host"
	logLocation   = "relay log output (the operator's log system)"
	// accessLogLocation is where relay/accesslog keeps the access log.
	accessLogLocation = "relay host, DATA/access-log/ (one file per UTC day, every line AES-256-GCM sealed)"
	noProcessors      = "none (self-hosted)"
)

// Day is 24 hours, the unit the seeds state periods in.
const Day = 24 * time.Hour

// Class is one row of the retention table.
type Class struct {
	// ID is the class id, e.g. ClassMeetingContent.
	ID string `json:"class"`
	// Title names the class for people.
	Title string `json:"title"`
	// What lists the data the class holds.
	What string `json:"what"`
	// Purpose says why the data is processed.
	Purpose string `json:"purpose"`
	// Persons lists whom the data concerns.
	Persons []Person `json:"persons"`
	// Kind says from when Period runs.
	Kind Kind `json:"kind"`
	// From names the event the period runs from, in words.
	From string `json:"from"`
	// Period is the default retention period; zero for UntilDeleted.
	Period time.Duration `json:"-"`
	// Action is what happens at the end of the period.
	Action Action `json:"action"`
	// Storage says where the data is kept.
	Storage string `json:"storage"`
	// Processors lists sub-processors that receive the data.
	Processors []string `json:"processors"`
	// Implemented is true when the relay stores this class today and
	// enforces its rule; false marks a planned class.
	Implemented bool `json:"implemented"`
	// Overridable is true when a tenant may override the period.
	Overridable bool `json:"overridable"`
	// Note adds what a reader must know (e.g. a class that follows
	// another).
	Note string `json:"note,omitempty"`
}

// classes is the retention table, in the order the report prints it.
var classes = []Class{
	{
		ID: ClassMeetingContent, Title: "Meeting content",
		What:    "whiteboard, text chat messages and uploaded files of a meeting, with the author's id, name and role per entry",
		Purpose: "exchanging messages and documents during a consultation",
		Persons: []Person{Advisor, Customer}, Kind: FromCreation, From: "the entry was posted",
		Period: 7 * Day, Action: Delete, Storage: storeLocation, Processors: []string{noProcessors},
		Implemented: true, Overridable: true,
	},
	{
		ID: ClassMeetingMetadata, Title: "Meeting metadata",
		What:    "IP addresses, meeting id, start, first customer entry, end, duration, type, initiator, advisor and customer names",
		Purpose: "running the meeting, technical support and usage counts",
		Persons: []Person{Advisor, Customer}, Kind: FromEvent, From: "the meeting ended (or its join link expired)",
		Period: 2 * Day, Action: Anonymise, Storage: storeLocation, Processors: []string{noProcessors},
		Implemented: true, Overridable: true,
	},
	{
		ID: ClassMeetingState, Title: "Meeting state",
		What:    "meeting status, times, title, waiting room with participants' names and optional phone numbers, link and participant secrets (digests)",
		Purpose: "admitting participants and running the meeting",
		Persons: []Person{Advisor, Customer}, Kind: FromEvent, From: "the meeting ended (or its join link expired)",
		Period: 2 * Day, Action: Anonymise, Storage: storeLocation, Processors: []string{noProcessors},
		Implemented: true, Overridable: false,
		Note: "phone numbers are dropped at the meeting's end; the rest follows meeting_metadata and its override",
	},
	{
		ID: ClassAccessLog, Title: "Access log",
		What:    "IP address, time, method, path (tokens cut, no query string), status, referrer origin, user agent and session id of each request",
		Purpose: "securing the relay (investigating attacks and misuse)",
		Persons: []Person{Admin, Advisor, Customer}, Kind: FromCreation, From: "the day of the request",
		Period: 30 * Day, Action: Delete, Storage: accessLogLocation, Processors: []string{noProcessors},
		Implemented: true, Overridable: false,
		Note: "relay-wide, not per tenant: a day's file is deleted 30 days after the day ends; the relay's log output holds ids only, no IP addresses",
	},
	{
		ID: ClassBooking, Title: "Booking",
		What:    "appointment with the customer's name, e-mail, text, and phone or address by appointment type",
		Purpose: "booking, confirming, reminding of and holding an appointment",
		Persons: []Person{Advisor, Customer}, Kind: FromEvent, From: "the appointment",
		Period: 42 * Day, Action: Delete, Storage: storeLocation, Processors: []string{"the operator's e-mail provider (confirmations, reminders)", "the operator's SMS provider (reminders, when configured)"},
		Implemented: true, Overridable: true,
		Note: "the details are sealed with the customer's own key; a legal hold on the customer keeps their bookings",
	},
	{
		ID: ClassCustomerProfile, Title: "Customer profile",
		What:    "customer's name, e-mail, mobile number, history of past and future meetings",
		Purpose: "recognising a returning customer and preparing consultations",
		Persons: []Person{Customer}, Kind: Sliding, From: "the customer's last interaction",
		Period: 360 * Day, Action: Delete, Storage: storeLocation, Processors: []string{noProcessors},
		Implemented: true, Overridable: true,
		Note: "deleting a profile destroys the customer's data key, so every copy sealed with it (bookings, backups) becomes unreadable",
	},
	{
		ID: ClassSignatureProcess, Title: "Signature process (not completed)",
		What:    "document to sign, signers, one-time codes, captured pen data of a process that was not completed",
		Purpose: "collecting signatures on a contract document",
		Persons: []Person{Advisor, Customer}, Kind: FromEvent, From: "the process started",
		Period: 30 * Day, Action: Delete, Storage: storeLocation, Processors: []string{"the operator's SMS provider (one-time codes)"},
		Implemented: true, Overridable: true,
	},
	{
		ID: ClassSignedDocument, Title: "Signed document",
		What:    "signed PDF with the encrypted biometric signature data bound to the document's hash",
		Purpose: "evidence of the signed contract",
		Persons: []Person{Advisor, Customer}, Kind: FromEvent, From: "the signature process completed",
		Period: 180 * Day, Action: Delete, Storage: storeLocation, Processors: []string{noProcessors},
		Implemented: true, Overridable: true,
	},
	{
		ID: ClassRecording, Title: "Recording archive",
		What:    "recorded media, chat, files, whiteboard, signatures and metadata of a session, recorded with consent",
		Purpose: "documenting a consultation the customer agreed to record",
		Persons: []Person{Advisor, Customer}, Kind: FromCreation, From: "the recording was made",
		Period: 180 * Day, Action: Delete, Storage: storeLocation, Processors: []string{noProcessors},
		Implemented: false, Overridable: true,
	},
	{
		ID: ClassAdvisorAccount, Title: "Advisor account",
		What:    "user name, display name, e-mail, password hash, role, second-factor secret, sessions; the booking page, appointment types, availability and calendar connections",
		Purpose: "signing in and working as an advisor or admin",
		Persons: []Person{Admin, Advisor}, Kind: UntilDeleted, From: "the advisor deletes the account (self-service)",
		Action: Delete, Storage: storeLocation, Processors: []string{noProcessors},
		Implemented: true, Overridable: false,
		Note: "DELETE /api/v1/me with the password (and a code with a second factor); refused while appointments are to come and for the last admin",
	},
	{
		ID: ClassMessengerMessages, Title: "Messenger messages",
		What:    "messages of a conversation through in-app chat, WhatsApp Business, Telegram, Facebook Messenger or SMS",
		Purpose: "answering customers' enquiries on their channel",
		Persons: []Person{Advisor, Customer}, Kind: FromEvent, From: "the conversation closed",
		Period: 30 * Day, Action: Delete, Storage: storeLocation,
		Processors:  []string{"the channel's provider (Meta, Telegram, the SMS gateway) for messages sent through it"},
		Implemented: true, Overridable: true,
	},
	{
		ID: ClassFeedback, Title: "Feedback questionnaire",
		What:    "the customer's consent to a feedback request (time, source, recording advisor), the questionnaire link (digest; the token sealed with the customer's key), the rating (1-5) and optional comment (sealed with the customer's key)",
		Purpose: "asking the customer, with consent, how the consultation went, for the advisor and the tenant's quality counters",
		Persons: []Person{Advisor, Customer}, Kind: FromEvent, From: "the customer answered (an unanswered request: its link expired, 14 days after the invitation)",
		Period: 180 * Day, Action: Delete, Storage: storeLocation, Processors: []string{"the operator's e-mail provider (the one invitation)"},
		Implemented: true, Overridable: true,
		Note: "sent only with consent; a legal hold on the customer keeps it; the monthly counters per tenant (answers, average rating) hold no ids and are kept",
	},
}

// Classes returns the retention table: every data class with its default
// rule. The slice is a copy.
func Classes() []Class {
	out := make([]Class, len(classes))
	for i, c := range classes {
		c.Persons = append([]Person(nil), c.Persons...)
		c.Processors = append([]string(nil), c.Processors...)
		out[i] = c
	}
	return out
}

// Lookup returns the class with the given id.
func Lookup(id string) (Class, bool) {
	for _, c := range Classes() {
		if c.ID == id {
			return c, true
		}
	}
	return Class{}, false
}

// Concerns reports whether the class concerns p.
func (c Class) Concerns(p Person) bool {
	for _, q := range c.Persons {
		if q == p {
			return true
		}
	}
	return false
}
