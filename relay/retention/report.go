package retention

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Report is the privacy report: the retention table in the layout of the
// data processing agreement's annexes 3 (data and processors) and 4 (data,
// concerned persons and storage location), with the tenants' overrides.
type Report struct {
	// Source says where the overrides come from, e.g. "the store in
	// parley-data" or "" for the code's defaults only.
	Source string
	// Overrides are the tenants' overrides by tenant id; nil prints none.
	Overrides map[string][]Override
	// TenantNames maps tenant ids to names for people; missing ids print
	// as the id.
	TenantNames map[string]string
}

// FormatPeriod writes a period in days when it is whole days, else in
// hours.
func FormatPeriod(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d == Day:
		return "1 day"
	case d%Day == 0:
		return fmt.Sprintf("%d days", d/Day)
	case d == time.Hour:
		return "1 hour"
	default:
		return fmt.Sprintf("%d hours", d/time.Hour)
	}
}

// Retention says the rule in words, e.g. "7 days after the entry was
// posted".
func (c Class) Retention() string {
	switch c.Kind {
	case UntilDeleted:
		return "until " + c.From
	case Sliding:
		return FormatPeriod(c.Period) + " after " + c.From + " (restarts with each)"
	default:
		return FormatPeriod(c.Period) + " after " + c.From
	}
}

// location is the short storage location for the annex 4 cells.
func (c Class) location() string {
	if c.Storage == logLocation {
		return "relay host (log output)"
	}
	return "relay host"
}

func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

func persons(ps []Person) string {
	var out []string
	for _, p := range ps {
		out = append(out, string(p))
	}
	return strings.Join(out, ", ")
}

func status(c Class) string {
	if c.Implemented {
		return "enforced"
	}
	return "planned"
}

// WriteMarkdown writes the report as Markdown.
func (r Report) WriteMarkdown(w io.Writer) error {
	b := bufio.NewWriter(w)
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	cs := Classes()

	p("# Parley privacy report\n\n")
	p("Data classes, retention and storage, generated from the relay's policy table (`relay/retention`).\n")
	p("Parley is self-hosted: every class is stored on the relay's host and no sub-processor receives it, except where a row names one.\n")
	p("Classes marked *planned* belong to features not built yet; their rule is what the relay will enforce.\n\n")

	p("## Data classes and retention\n\n")
	p("| data class | concerned persons | purpose | retention | deletion action | storage location | processors | status |\n")
	p("|---|---|---|---|---|---|---|---|\n")
	for _, c := range cs {
		what := fmt.Sprintf("**%s** (`%s`): %s", c.Title, c.ID, c.What)
		if c.Note != "" {
			what += "; " + c.Note
		}
		p("| %s | %s | %s | %s | %s | %s | %s | %s |\n", cell(what), persons(c.Persons), cell(c.Purpose), cell(c.Retention()),
			c.Action, cell(c.Storage), cell(strings.Join(c.Processors, "; ")), status(c))
	}

	p("\n## Annex 3: data and processors\n\n")
	p("| data | relay (self-hosted) | sub-processors |\n|---|---|---|\n")
	for _, c := range cs {
		sub := "none"
		if !slices.Equal(c.Processors, []string{noProcessors}) {
			sub = strings.Join(c.Processors, "; ")
		}
		p("| %s | X | %s |\n", cell(c.Title), cell(sub))
	}

	p("\n## Annex 4: data, concerned persons and storage location\n\n")
	p("| data | administrator | advisor | customer |\n|---|---|---|---|\n")
	for _, c := range cs {
		col := func(who Person) string {
			if c.Concerns(who) {
				return c.location()
			}
			return ""
		}
		p("| %s | %s | %s | %s |\n", cell(c.Title), col(Admin), col(Advisor), col(Customer))
	}
	p("\nAn empty cell means that no data of this class is stored for that group of persons.\n")

	p("\n## Tenant overrides\n\n")
	if r.Source == "" {
		p("Not read: run `relay privacy-report --data DIR` on a stopped relay to include its tenants' overrides.\n")
		return b.Flush()
	}
	p("Read from %s.\n\n", r.Source)
	tenants := make([]string, 0, len(r.Overrides))
	for t := range r.Overrides {
		tenants = append(tenants, t)
	}
	slices.Sort(tenants)
	if len(tenants) == 0 {
		p("No tenant overrides a default.\n")
		return b.Flush()
	}
	p("| tenant | data class | default | effective | reason | set by | set at |\n|---|---|---|---|---|---|---|\n")
	for _, t := range tenants {
		ovs := slices.Clone(r.Overrides[t])
		slices.SortFunc(ovs, func(a, b Override) int { return strings.Compare(a.Class, b.Class) })
		name := t
		if n, ok := r.TenantNames[t]; ok && n != "" {
			name = n + " (`" + t + "`)"
		}
		for _, o := range ovs {
			c, ok := Lookup(o.Class)
			def := "-"
			if ok {
				def = FormatPeriod(c.Period)
			}
			p("| %s | `%s` | %s | %s | %s | `%s` | %s |\n", cell(name), cell(o.Class), def, FormatPeriod(o.Period),
				cell(o.Reason), cell(o.By), o.At.UTC().Format(time.RFC3339))
		}
	}
	return b.Flush()
}
